package kinetixsim

import "maps"

// Stats are the simulator's counters.
type Stats struct {
	// Requests counts requests by route pattern ("POST /v1/process"),
	// faulted ones included; unmatched routes count under "".
	Requests map[string]int
	// Faulted counts requests answered or dropped by a fault.
	Faulted int
	// ProcessesCreated counts processes actually created.
	ProcessesCreated int
	// TokensIssued counts process tokens handed out (token, retake and
	// dev-token routes).
	TokensIssued int
	// InFlight is the number of requests being served now.
	InFlight int
	// MaxInFlight is the most requests served at once so far.
	MaxInFlight int
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = maps.Clone(s.stats.Requests)
	return st
}

// Requests returns how many requests a route pattern has had.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Requests[route]
}

// ProcessesCreated returns how many processes were created.
func (s *Server) ProcessesCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.ProcessesCreated
}

func (s *Server) begin(route string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests[route]++
	s.stats.InFlight++
	s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.stats.InFlight)
}

func (s *Server) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.InFlight--
}

// TokenUser is the virtual world (key) and user a token was issued to.
type TokenUser struct {
	Key    string
	UserID string
}

// TokenUsers returns, for every token issued so far, the key and the
// userId it was issued to, so a test can check what went upstream.
func (s *Server) TokenUsers() map[string]TokenUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]TokenUser, len(s.tokens))
	for tok, t := range s.tokens {
		out[tok] = TokenUser{Key: t.key, UserID: t.userID}
	}
	return out
}
