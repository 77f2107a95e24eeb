// Package dashboard serves the analytics dashboard of docs/dashboard.md:
// the pages under /dashboard/analytics, sign-in with an app's secret key
// exchanged for a server-side session, and the JSON views under
// /dashboard/api/ that the pages draw and analysts may script.
//
// Every query is bounded by the signed-in app and by a time range, so the
// day partitions of the telemetry tables are pruned, and runs in a
// read-only transaction with a statement timeout.
package dashboard
