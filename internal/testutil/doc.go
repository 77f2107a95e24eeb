// Package testutil holds the small helpers that tests of several packages
// share: a goroutine-safe buffer for captured logs (SyncBuffer), a settable
// clock (Clock), free loopback addresses (FreeAddr, FreePort), polling
// external state until a check passes (WaitFor), and the wait for a
// started process to answer /readyz (WaitReady). Tests import it; code
// that ships does not (docs/architecture.md, Layers).
package testutil
