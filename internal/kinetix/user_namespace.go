package kinetix

import "strings"

// UserNamespaceSeparator joins a namespace and a player's user id in the
// userId sent upstream: "<namespace>:<user id>". See WithUserNamespace.
const UserNamespaceSeparator = ":"

// WithUserNamespace returns a copy of the client that sends every userId as
// "<ns>:<userID>" and strips that prefix again from the userId of the
// answers (tokens and processes). Several apps that share one key, and so
// one Kinetix virtual world, each get their own namespace, so one app
// cannot reach another app's players (docs/upstreams-kinetix.md, "Player
// ids upstream"). An empty ns sends user ids as they are.
func (c *Client) WithUserNamespace(ns string) *Client {
	cp := *c
	cp.userNS = ns
	return &cp
}

// UpstreamUserID is the userId the client sends for the player userID.
func (c *Client) UpstreamUserID(userID string) string {
	if c.userNS == "" {
		return userID
	}
	return c.userNS + UserNamespaceSeparator + userID
}

// localUserID undoes UpstreamUserID on an answer's userId; an id outside
// the namespace is returned as it is.
func (c *Client) localUserID(upstreamID string) string {
	if c.userNS == "" {
		return upstreamID
	}
	id, ok := strings.CutPrefix(upstreamID, c.userNS+UserNamespaceSeparator)
	if !ok {
		return upstreamID
	}
	return id
}
