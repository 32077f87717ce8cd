package ima

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Names in the logs are exact: the n-ng field of a binary record holds the file name's bytes as
// the disk gave them (a GRUB path is URL-decoded, so "%0A" is a newline). Text is another matter.
// The kernel prints the n-ng field of its ASCII list raw (ima_show_template_data_ascii:
// seq_puts of the string), so a name with a newline splits its line in two and an escape sequence
// reaches whoever cats the list. This package writes text unambiguously instead, and the boot
// flow's console does the same: EscapeString.

// EscapeString returns s with every byte that could act on a terminal or break a line-oriented
// reader written as a backslash and three octal digits, as the kernel's seq_escape writes
// (mangle_path): the C0 controls 0x00-0x1f, DEL 0x7f, the two bytes of each C1 control
// U+0080-U+009F (0x9b is CSI on a Linux console), every byte that is not part of valid UTF-8, and
// the backslash itself (so that the escaping is reversible: UnescapeString). Every other byte,
// printable ASCII and printable UTF-8, is kept. A string without such bytes is returned as is.
func EscapeString(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if escaped(r, n) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\%03o", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escaped reports whether the rune r, n bytes long in its string, is written escaped.
func escaped(r rune, n int) bool {
	return r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) || (r == utf8.RuneError && n == 1)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if escaped(r, n) {
			return true
		}
		i += n
	}
	return false
}

// UnescapeString reverses EscapeString: each backslash followed by three octal digits (at most
// \377) becomes that byte. A backslash that is not followed by three octal digits is kept as it
// is, so that a name printed raw (by the kernel) with a stray backslash still reads back; only a
// raw name containing a backslash and three octal digits reads back differently, and the binary
// list, which is exact, settles it.
func UnescapeString(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) && s[i+1] <= '3' {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
