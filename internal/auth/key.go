// Package auth generates gamepipe's API keys, hashes them for storage and
// compares hashes in constant time. Keys are 256-bit random strings with a
// kind prefix; only their SHA-256 is ever stored.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// KeyKind says what a key authorises.
type KeyKind string

// The two kinds of app key.
const (
	// KindPublic is the public token game clients send as x-public-token.
	KindPublic KeyKind = "public"
	// KindSecret is the secret key servers send as x-api-key or Bearer.
	KindSecret KeyKind = "secret"
)

// Key prefixes make a leaked key recognisable (and greppable by scanners).
const (
	PublicPrefix = "gp_pub_"
	SecretPrefix = "gp_sk_"
)

// Hash is a key's SHA-256, the only form stored.
type Hash [sha256.Size]byte

// NewKey returns a fresh random key of the kind.
func NewKey(kind KeyKind) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	prefix := PublicPrefix
	if kind == KindSecret {
		prefix = SecretPrefix
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashKey hashes a presented or new key.
func HashKey(key string) Hash {
	return sha256.Sum256([]byte(key))
}

// Equal compares two hashes in constant time.
func (h Hash) Equal(other []byte) bool {
	return subtle.ConstantTimeCompare(h[:], other) == 1
}

// Plausible reports whether s could be a gamepipe key at all; callers may
// skip the lookup for anything else. It does not leak timing about real keys.
func Plausible(s string) bool {
	return len(s) >= 20 && len(s) <= 128 && (strings.HasPrefix(s, PublicPrefix) || strings.HasPrefix(s, SecretPrefix))
}

// DisplayPrefix is the part of a key that is safe to show and log.
func DisplayPrefix(key string) string {
	n := len(SecretPrefix) + 4
	if strings.HasPrefix(key, PublicPrefix) {
		n = len(PublicPrefix) + 4
	}
	if len(key) < n {
		return ""
	}
	return key[:n]
}
