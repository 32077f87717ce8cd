// Command mbctl is measuredboot's host tool: it builds the boot image and the demo target, checks
// policies before they are built in, makes keys and signatures for appraisal, verifies logs
// against PCR values, predicts a boot's PCR values, and seals secrets to them.
//
//	mbctl build  -policy FILE [-keys DIR] [-digests FILE] [-modules-dir DIR -modules LIST] [-config k=v]... -o IMAGE.cpio.xz
//	mbctl keygen [-type p256] [-subject NAME] -o DIR
//	mbctl sign   -key KEY [-cert CERT] [-a sha256] FILE...
//	mbctl verify [-tcg FILE] [-ima FILE [-bank sha256]] (-pcrs FILE | -tpm /dev/tpmrm0 | -swtpm HOST:PORT)
//	mbctl predict -policy P -kernel K [-format yaml|raw|...] ...
//	mbctl seal   [-in SECRET] -o BLOB (-tpm /dev/tpmrm0 | -swtpm HOST:PORT) [-pcrs 8,9] -policy P -kernel K ...
//	mbctl unseal -in BLOB [-o SECRET] (-tpm /dev/tpmrm0 | -swtpm HOST:PORT)
//	mbctl attest -nonce HEX -o FILE (-tpm /dev/tpmrm0 | -swtpm HOST:PORT)
//	mbctl attest-key -o AK.pem (-tpm /dev/tpmrm0 | -swtpm HOST:PORT)
//	mbctl export keylime [-runtime-policy FILE] [-refstate FILE] PREDICT-FLAGS
//	mbctl target -o TARGET.cpio
//	mbctl policy check FILE
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var ee exitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(os.Stderr, "mbctl: %v\n", err)
		}
		os.Exit(1)
	}
}

// exitError ends mbctl with status 1 after the command already said why.
type exitError struct{ msg string }

func (e exitError) Error() string { return e.msg }

const usage = `usage:
  mbctl build  -policy FILE [-keys DIR] [-digests FILE] [-modules-dir DIR -modules LIST] [-config key=value]... -o IMAGE
  mbctl keygen [-type p256|p384|rsa2048|rsa3072|rsa4096] [-subject NAME] -o DIR
  mbctl sign   -key KEY [-cert CERT] [-a sha256|sha384|sha512] FILE...
  mbctl verify [-tcg FILE] [-ima FILE [-bank sha256]] (-pcrs FILE | -tpm /dev/tpmrm0 | -swtpm HOST:PORT | -attestation FILE -nonce HEX [-ak AK.pem])
  mbctl predict -policy P -kernel K [-initrd I] [-firmware F ...] [-cmdline C] [-eventlog FW] [-root DIR] [-format F]
  mbctl seal   [-in SECRET] -o BLOB (-tpm DEV | -swtpm HOST:PORT) [-pcrs 8,9] [-bank sha256] PREDICT-FLAGS
  mbctl unseal -in BLOB [-o SECRET] (-tpm DEV | -swtpm HOST:PORT)
  mbctl attest -nonce HEX -o FILE [-tcg LOG] [-ima-dir DIR] (-tpm DEV | -swtpm HOST:PORT)
  mbctl attest-key -o AK.pem (-tpm DEV | -swtpm HOST:PORT)
  mbctl export keylime [-runtime-policy FILE] [-refstate FILE] PREDICT-FLAGS
  mbctl target -o FILE
  mbctl policy check FILE`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "build":
		return cmdBuild(args[1:], stderr)
	case "target":
		return cmdTarget(args[1:], stderr)
	case "sign":
		return cmdSign(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(args[1:], stdout, stderr)
	case "predict":
		return cmdPredict(args[1:], stdout, stderr)
	case "hashbench":
		return cmdHashBench(args[1:], stdout, stderr)
	case "benchlog":
		return cmdBenchLog(args[1:], stdout, stderr)
	case "seal":
		return cmdSeal(args[1:], stdout, stderr)
	case "unseal":
		return cmdUnseal(args[1:], stdout, stderr)
	case "attest":
		return cmdAttest(args[1:], stdout, stderr)
	case "attest-key":
		return cmdAttestKey(args[1:], stdout, stderr)
	case "export":
		return cmdExport(args[1:], stdout, stderr)
	case "policy":
		if len(args) != 3 || args[1] != "check" {
			return errors.New(usage)
		}
		return cmdPolicyCheck(args[2], stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mbctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
