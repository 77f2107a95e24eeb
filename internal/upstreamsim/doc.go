// Package upstreamsim holds faithful simulators of the upstream APIs
// gamepipe is a client of, each built from its document alone: kinetixsim
// (Kinetix's UGC emote API routes) and generaitivsim (Generaitiv's API documentation). They import
// the standard library and a few third-party libraries (a QR encoder, a
// websocket, Keccak for checksum addresses), never gamepipe's packages, so
// a misreading of a
// document in a client cannot hide in a shared type. cmd/upstreamsim serves
// them for the local stack and benchmarks; tests use them via httptest.
package upstreamsim
