// Package ratelimit is per-source-IP rate limiting for the ingestion API.
//
// A [Limiter] keeps one token bucket per client key in a bounded, sharded
// table: each key may make Burst requests at once and then Rate requests per
// second. The key is derived from the client address (see [Limiter.Allow]):
// the full address for IPv4, the /64 prefix for IPv6, because one client
// (one home, one phone, one VM) usually owns a whole /64 and could otherwise
// rotate through 2^64 addresses to reset its limit.
//
// Memory is bounded by [Config.MaxKeys] no matter how many distinct addresses
// arrive. When the table is full an entry is evicted, preferring a bucket that
// has refilled completely (it holds no state: a fresh bucket is identical).
// Evicting an active key resets that key to a fresh bucket of Burst tokens,
// never more; that is the documented cost of a bounded table under a flood of
// distinct keys.
//
// Which address is the client is decided by [ClientIP]: the TCP peer, unless
// the peer is a configured trusted proxy, in which case the rightmost address
// in X-Forwarded-For that is not itself a trusted proxy. A client can put
// anything in X-Forwarded-For, so the header of an untrusted peer is ignored.
//
// Typical use in an HTTP middleware:
//
//	key := clientIP.FromRequest(r)
//	if ok, retry := limiter.Allow(key, time.Now()); !ok {
//		w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(retry)))
//		// write a 429 with the API's JSON error body
//		return
//	}
package ratelimit
