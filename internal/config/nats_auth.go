package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// NATSAuth is how a process authenticates to NATS: a user and password, or
// an nkey seed file, or neither (then NATS_URL may carry user:password, or
// the server asks for nothing). A server configured with users refuses a
// client without them (docs/architecture.md, "Who may do what on NATS").
type NATSAuth struct {
	// User is the NATS user (NATS_USER).
	User string
	// Password is the user's password (NATS_PASSWORD, or the content of the
	// file NATS_PASSWORD_FILE names). Never printed.
	Password string
	// NKeySeedFile names a file holding the process's nkey seed
	// (NATS_NKEY_SEED_FILE), instead of a user and password.
	NKeySeedFile string
}

// natsAuth reads NATS_USER, NATS_PASSWORD, NATS_PASSWORD_FILE and
// NATS_NKEY_SEED_FILE, refusing an incomplete or ambiguous combination.
// Its errors never print a password.
func (r *reader) natsAuth(natsURL string) NATSAuth {
	a := NATSAuth{
		User:         strings.TrimSpace(r.getenv("NATS_USER")),
		NKeySeedFile: strings.TrimSpace(r.getenv("NATS_NKEY_SEED_FILE")),
	}
	a.Password = r.natsPassword()
	switch {
	case a.NKeySeedFile != "" && (a.User != "" || a.Password != ""):
		r.errs = append(r.errs, errors.New("NATS_NKEY_SEED_FILE and NATS_USER/NATS_PASSWORD: set only one way to authenticate"))
	case a.User != "" && a.Password == "":
		r.errs = append(r.errs, errors.New("NATS_USER: needs NATS_PASSWORD or NATS_PASSWORD_FILE"))
	case a.User == "" && a.Password != "":
		r.errs = append(r.errs, errors.New("NATS_PASSWORD: needs NATS_USER"))
	case (a.User != "" || a.NKeySeedFile != "") && urlHasUserinfo(natsURL):
		r.errs = append(r.errs, errors.New("NATS_URL carries credentials and NATS_USER or NATS_NKEY_SEED_FILE is set: set only one"))
	}
	if a.NKeySeedFile != "" {
		if _, err := os.Stat(a.NKeySeedFile); err != nil {
			r.errs = append(r.errs, fmt.Errorf("NATS_NKEY_SEED_FILE: %w", err))
		}
	}
	return a
}

// natsPassword reads NATS_PASSWORD or the file NATS_PASSWORD_FILE names.
func (r *reader) natsPassword() string {
	const name, fileName = "NATS_PASSWORD", "NATS_PASSWORD_FILE"
	v := strings.TrimSpace(r.getenv(name))
	path := strings.TrimSpace(r.getenv(fileName))
	if path == "" {
		return v
	}
	if v != "" {
		r.errs = append(r.errs, fmt.Errorf("%s and %s: set only one", name, fileName))
		return ""
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: error reading %s: %w", fileName, path, err))
		return ""
	}
	if v = strings.TrimSpace(string(raw)); v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s: %s is empty", fileName, path))
	}
	return v
}

// urlHasUserinfo reports whether any URL of a comma-separated list carries
// a user (and perhaps a password).
func urlHasUserinfo(list string) bool {
	for part := range strings.SplitSeq(list, ",") {
		if u, err := url.Parse(strings.TrimSpace(part)); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// NATSAuthFromEnv reads only the NATS credentials, for a tool that checks
// a server with them (devrun).
func NATSAuthFromEnv(getenv Getenv) (NATSAuth, error) {
	r := &reader{getenv: getenv}
	a := r.natsAuth(r.getenv("NATS_URL"))
	return a, r.err()
}
