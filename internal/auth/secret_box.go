package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SecretsKeySize is the size of a SecretBox key: AES-256.
const SecretsKeySize = 32

// sealedPrefix starts every sealed value; the digit is the format version.
const sealedPrefix = "gpenc1:"

// ErrSealed is returned for a sealed value that cannot be opened: no key,
// another key, or a corrupted or moved value.
var ErrSealed = errors.New("cannot open sealed secret")

// SecretBox encrypts secrets that gamepipe must be able to read back (the
// apps' upstream API keys) with AES-256-GCM before they are stored. A sealed
// value is "gpenc1:<key id>:<base64 of nonce and ciphertext>": the key id
// names the key that sealed it without revealing it, and the nonce is
// random per value. The caller binds each value to where it is stored (the
// additional data), so a value copied to another row or column does not
// open. It is safe for concurrent use.
type SecretBox struct {
	aead cipher.AEAD
	id   string
}

// NewSecretBox returns a SecretBox for a 32-byte key.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != SecretsKeySize {
		return nil, fmt.Errorf("secrets key must be %d bytes, got %d", SecretsKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("error creating the secrets cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("error creating the secrets cipher: %w", err)
	}
	sum := sha256.Sum256(append([]byte("gamepipe secrets key id\x00"), key...))
	return &SecretBox{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
}

// KeyID names the box's key: a hash prefix, safe to show and log.
func (b *SecretBox) KeyID() string { return b.id }

// Seal encrypts plain, bound to ad (where the value is stored).
func (b *SecretBox) Seal(plain, ad string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(ad))
	return sealedPrefix + b.id + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value Seal made with the same key and ad. Errors wrap
// ErrSealed and never include the value.
func (b *SecretBox) Open(sealed, ad string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("%w: not a sealed value", ErrSealed)
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("%w: malformed", ErrSealed)
	}
	if b == nil {
		return "", fmt.Errorf("%w: sealed with key %s and no secrets key is configured", ErrSealed, id)
	}
	if id != b.id {
		return "", fmt.Errorf("%w: sealed with key %s, the configured key is %s", ErrSealed, id, b.id)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", fmt.Errorf("%w: malformed", ErrSealed)
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(ad))
	if err != nil {
		return "", fmt.Errorf("%w: authentication failed (corrupted, or stored for another app)", ErrSealed)
	}
	return string(plain), nil
}

// IsSealed reports whether s is a value Seal made (with any key).
func IsSealed(s string) bool {
	return strings.HasPrefix(s, sealedPrefix)
}
