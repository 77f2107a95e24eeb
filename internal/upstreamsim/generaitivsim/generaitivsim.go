// Package generaitivsim simulates the Generaitiv API (placeholder until the
// AI image issue lands).
package generaitivsim

import (
	"errors"
	"net/http"
)

// FromEnv returns the simulator's listen address and handler as configured
// by the environment.
func FromEnv(getenv func(string) string) (addr string, h http.Handler, err error) {
	return "", nil, errors.New("generaitiv simulator not built yet")
}
