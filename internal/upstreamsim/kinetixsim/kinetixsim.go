// Package kinetixsim simulates the Kinetix user-generated-emote API
// (placeholder until the emote issue lands).
package kinetixsim

import (
	"errors"
	"net/http"
)

// FromEnv returns the simulator's listen address and handler as configured
// by the environment.
func FromEnv(getenv func(string) string) (addr string, h http.Handler, err error) {
	return "", nil, errors.New("kinetix simulator not built yet")
}
