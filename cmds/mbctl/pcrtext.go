package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// isPCRTextproto reports whether b looks like a go-tpm-tools PCRs message in the protobuf text
// format: its first field is "hash: ..." or "pcrs {" (or "pcrs: {", "pcrs <").
func isPCRTextproto(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "hash"); ok {
			rest = strings.TrimSpace(rest)
			return strings.HasPrefix(rest, ":") && strings.TrimSpace(rest[1:]) != ""
		}
		if rest, ok := strings.CutPrefix(line, "pcrs"); ok {
			rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
			return strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, "<")
		}
		return false
	}
	return false
}

// textToken is one token of the protobuf text format: an identifier or number, a string (its
// bytes unescaped), or punctuation.
type textToken struct {
	kind byte // 'i' identifier or number, 's' string, or the punctuation byte itself
	text string
	line int
}

// tokenizeText splits protobuf text format into tokens. Adjacent strings are joined, as the
// format says. At most maxTokens tokens are read.
func tokenizeText(s string, maxTokens int) ([]textToken, error) {
	var out []textToken
	line := 1
	for i := 0; i < len(s); {
		if len(out) > maxTokens {
			return nil, fmt.Errorf("line %d: more than %d tokens: not one PCRs message", line, maxTokens)
		}
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.IndexByte(":{}<>,;[]", c) >= 0:
			out = append(out, textToken{kind: c, text: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			v, n, err := unquoteText(s[i:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			if k := len(out) - 1; k >= 0 && out[k].kind == 's' {
				out[k].text += v
			} else {
				out = append(out, textToken{kind: 's', text: v, line: line})
			}
			i += n
		case c == '_' || c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			out = append(out, textToken{kind: 'i', text: s[i:j], line: line})
			i = j
		default:
			return nil, fmt.Errorf("line %d: unexpected byte 0x%02x", line, c)
		}
	}
	return out, nil
}

// unquoteText reads one quoted string at the start of s, with the text format's C escapes (\n,
// \t, \", \\, octal \NNN, hex \xHH, ...), and returns its bytes and how many bytes of s it took.
func unquoteText(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\n':
			return "", 0, errors.New("a string runs past the end of its line")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"', '?':
			b.WriteByte(e)
		case 'x', 'X':
			j := i
			for j < len(s) && j < i+2 && isHex(s[j]) {
				j++
			}
			if j == i {
				return "", 0, errors.New(`\x without hex digits in a string`)
			}
			v, _ := strconv.ParseUint(s[i:j], 16, 8)
			b.WriteByte(byte(v))
			i = j
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i - 1
			for j < len(s) && j < i+2 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i-1:j], 8, 16)
			if v > 0xff {
				return "", 0, fmt.Errorf(`octal escape \%s is more than a byte`, s[i-1:j])
			}
			b.WriteByte(byte(v))
			i = j
		default:
			return "", 0, fmt.Errorf(`unknown escape \%c in a string`, e)
		}
	}
	return "", 0, errors.New("a string has no closing quote")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parsePCRTextproto reads go-tpm-tools' PCRs message in the protobuf text format, as prototext
// and its tools write it:
//
//	hash: SHA256
//	pcrs: {
//	  key: 9
//	  value: "\x1f\x8b..."
//	}
//
// The hash is the HashAlgo enum's name or number; each pcrs entry a map entry of a PCR index and
// its value's bytes. One message: one bank.
func parsePCRTextproto(b []byte) (eventlog.PCRs, error) {
	toks, err := tokenizeText(string(b), 16*(eventlog.NumPCRs+2))
	if err != nil {
		return nil, fmt.Errorf("go-tpm-tools PCRs text: %w", err)
	}
	p := &textParser{toks: toks}
	var alg eventlog.Alg
	vals := map[uint32][]byte{}
	for !p.done() {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		switch name.text {
		case "hash":
			if alg != 0 {
				return nil, p.fail(name, "hash given twice")
			}
			if err := p.punct(':'); err != nil {
				return nil, err
			}
			v, err := p.ident()
			if err != nil {
				return nil, err
			}
			if a, ok := tpmAlgs[v.text]; ok {
				alg = a
			} else if n, err := strconv.ParseUint(v.text, 0, 16); err == nil && eventlog.Alg(n).Size() > 0 {
				alg = eventlog.Alg(n)
			} else {
				return nil, p.fail(v, fmt.Sprintf("hash %q: want SHA1, SHA256, SHA384 or SHA512", clip(v.text)))
			}
		case "pcrs":
			idx, val, err := p.mapEntry()
			if err != nil {
				return nil, err
			}
			if _, ok := vals[idx]; ok {
				return nil, p.fail(name, fmt.Sprintf("PCR %d given twice", idx))
			}
			vals[idx] = val
		default:
			return nil, p.fail(name, fmt.Sprintf("field %q: a PCRs message has hash and pcrs", clip(name.text)))
		}
		p.separator()
	}
	if alg == 0 {
		return nil, errors.New("go-tpm-tools PCRs text: no hash field: which bank the values are of is unknown")
	}
	if len(vals) == 0 {
		return nil, errors.New("no PCR values in it")
	}
	for i, v := range vals {
		if len(v) != alg.Size() {
			return nil, fmt.Errorf("go-tpm-tools PCRs text: %v PCR %d value is %d bytes, want %d", alg, i, len(v), alg.Size())
		}
	}
	return eventlog.PCRs{alg: vals}, nil
}

// textParser walks the tokens of one message.
type textParser struct {
	toks []textToken
	pos  int
}

func (p *textParser) done() bool { return p.pos >= len(p.toks) }

func (p *textParser) fail(t textToken, what string) error {
	return fmt.Errorf("go-tpm-tools PCRs text, line %d: %s", t.line, what)
}

func (p *textParser) next(what string) (textToken, error) {
	if p.done() {
		line := 1
		if len(p.toks) > 0 {
			line = p.toks[len(p.toks)-1].line
		}
		return textToken{}, fmt.Errorf("go-tpm-tools PCRs text, line %d: ends where %s should be", line, what)
	}
	t := p.toks[p.pos]
	p.pos++
	return t, nil
}

func (p *textParser) ident() (textToken, error) {
	t, err := p.next("a field name or value")
	if err == nil && t.kind != 'i' {
		err = p.fail(t, fmt.Sprintf("%q where a field name or value should be", clip(t.text)))
	}
	return t, err
}

func (p *textParser) punct(c byte) error {
	t, err := p.next(fmt.Sprintf("%q", c))
	if err == nil && t.kind != c {
		err = p.fail(t, fmt.Sprintf("%q where %q should be", clip(t.text), c))
	}
	return err
}

// separator skips an optional ',' or ';' after a field.
func (p *textParser) separator() {
	if !p.done() && (p.toks[p.pos].kind == ',' || p.toks[p.pos].kind == ';') {
		p.pos++
	}
}

// mapEntry reads "[:] { key: N value: "..." }" (or with < >): one PCR and its value.
func (p *textParser) mapEntry() (uint32, []byte, error) {
	if !p.done() && p.toks[p.pos].kind == ':' {
		p.pos++
	}
	open, err := p.next("'{'")
	if err != nil {
		return 0, nil, err
	}
	closing := byte('}')
	switch open.kind {
	case '{':
	case '<':
		closing = '>'
	default:
		return 0, nil, p.fail(open, fmt.Sprintf("%q where a pcrs entry's '{' should be", clip(open.text)))
	}
	var idx uint32
	var val []byte
	haveKey, haveVal := false, false
	for {
		t, err := p.next(fmt.Sprintf("%q", closing))
		if err != nil {
			return 0, nil, err
		}
		if t.kind == closing {
			break
		}
		if t.kind != 'i' || (t.text != "key" && t.text != "value") {
			return 0, nil, p.fail(t, fmt.Sprintf("%q in a pcrs entry, which has key and value", clip(t.text)))
		}
		if err := p.punct(':'); err != nil {
			return 0, nil, err
		}
		v, err := p.next("a " + t.text)
		if err != nil {
			return 0, nil, err
		}
		if t.text == "key" {
			n, err := strconv.ParseUint(v.text, 0, 32)
			if v.kind != 'i' || err != nil || n >= eventlog.NumPCRs || haveKey {
				return 0, nil, p.fail(v, fmt.Sprintf("PCR %q: want one key, 0-%d", clip(v.text), eventlog.NumPCRs-1))
			}
			idx, haveKey = uint32(n), true
		} else {
			if v.kind != 's' || haveVal {
				return 0, nil, p.fail(v, "want one value, a quoted string of the PCR's bytes")
			}
			val, haveVal = []byte(v.text), true
		}
		p.separator()
	}
	if !haveKey || !haveVal {
		return 0, nil, p.fail(open, "a pcrs entry without its key or value")
	}
	return idx, val, nil
}
