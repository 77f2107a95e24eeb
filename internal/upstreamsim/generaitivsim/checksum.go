package generaitivsim

import (
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/sha3"
)

// checksumAddress writes a 0x address in the mixed-case checksum form the
// document's addresses have (EIP-55): a hex letter is upper-case where
// the Keccak-256 of the lower-case address has a nibble of 8 or more.
func checksumAddress(addr string) string {
	lower := strings.ToLower(strings.TrimPrefix(addr, "0x"))
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := hex.EncodeToString(h.Sum(nil))
	out := []byte(lower)
	for i, c := range out {
		if c >= 'a' && c <= 'f' && sum[i] >= '8' {
			out[i] = c - 'a' + 'A'
		}
	}
	return "0x" + string(out)
}
