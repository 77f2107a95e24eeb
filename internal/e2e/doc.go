// Package e2e holds end-to-end tests of the telemetry path: the real API
// handler, a real JetStream server, the real sink and exporter, and real
// Postgres. It has no non-test code but this comment.
package e2e
