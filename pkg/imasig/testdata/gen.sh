#!/bin/sh
# Regenerates the imasig fixtures with the real tools: OpenSSL 3.0 and evmctl (ima-evm-utils 1.4,
# Debian 12). Run from this directory: sh gen.sh. The keys are test keys, published on purpose:
# never build them into an image. ECDSA signatures are randomized, so a rerun changes their bytes.
set -eu
rm -rf keys certs pem sigs digests
mkdir keys certs pem sigs digests
printf 'measuredboot imasig test data\n' > data.txt
printf 'another file\n' > other.txt

# Keys: PKCS#8 PEM, as openssl genpkey writes them.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out keys/rsa2048.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out keys/rsa4096.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out keys/p256.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out keys/p384.pem

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for k in rsa2048 rsa4096 p256 p384; do
	# Self-signed certificate; openssl's default subjectKeyIdentifier=hash is the SHA-1 of the
	# public key, so its last 4 bytes are the IMA key id.
	openssl req -new -x509 -key keys/$k.pem -subj "/CN=imasig test $k" \
		-days 36500 -addext keyUsage=digitalSignature -outform DER -out certs/$k.der
	openssl x509 -inform DER -in certs/$k.der -out pem/$k.pem
	for a in sha256 sha384 sha512; do
		cp data.txt "$tmp/data.txt"
		evmctl ima_sign --sigfile -a $a -k keys/$k.pem "$tmp/data.txt"
		evmctl ima_verify --sigfile -k certs/$k.der "$tmp/data.txt"
		mv "$tmp/data.txt.sig" sigs/data.txt.$k.$a.sig
	done
done
cp other.txt "$tmp/other.txt"
evmctl ima_sign --sigfile -a sha256 -k keys/p256.pem "$tmp/other.txt"
mv "$tmp/other.txt.sig" sigs/other.txt.p256.sha256.sig
cp other.txt "$tmp/other.txt"
evmctl ima_sign --sigfile -a sha256 -k keys/rsa2048.pem "$tmp/other.txt"
mv "$tmp/other.txt.sig" sigs/other.txt.rsa2048.sha256.sig

# security.ima digest values as evmctl ima_hash prints them (hex): type 0x01 for SHA-1, 0x04 otherwise.
for a in sha1 sha256 sha512; do
	evmctl ima_hash -n -a $a data.txt > digests/data.txt.$a.hex
done
