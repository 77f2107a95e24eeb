package httpapi

import (
	"cmp"
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// testConfig returns c with every field it leaves zero set as in
// production: from internal/config's defaults, as apicmd passes them.
func testConfig(t testing.TB, c *Config) *Config {
	t.Helper()
	prod, err := config.APIFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	out := *c
	out.Limits.MaxBatch = cmp.Or(out.Limits.MaxBatch, prod.MaxBatch)
	out.MaxBodyBytes = cmp.Or(out.MaxBodyBytes, prod.MaxBodyBytes)
	out.BodyReadTimeout = cmp.Or(out.BodyReadTimeout, prod.BodyReadTimeout)
	out.HeaderReadTimeout = cmp.Or(out.HeaderReadTimeout, prod.HeaderReadTimeout)
	out.RequestTimeout = cmp.Or(out.RequestTimeout, prod.RequestTimeout)
	out.KeyCacheTTL = cmp.Or(out.KeyCacheTTL, prod.KeyCacheTTL)
	out.KeyStaleMax = cmp.Or(out.KeyStaleMax, prod.AuthStaleMax)
	if out.RateLimit.Rate == 0 {
		out.RateLimit = ratelimit.Config{Rate: prod.RateLimit, Burst: prod.RateBurst, MaxKeys: prod.RateLimitMaxKeys}
	}
	if out.WebhookRateLimit.Rate == 0 {
		out.WebhookRateLimit = ratelimit.Config{Rate: prod.WebhookRateLimit, Burst: prod.WebhookRateBurst, MaxKeys: prod.RateLimitMaxKeys}
	}
	out.MaxInflightBodyBytes = cmp.Or(out.MaxInflightBodyBytes, max(prod.MaxInflightBodyBytes, MinInflightBodyBytes(out.MaxBodyBytes)))
	out.UploadMinRate = cmp.Or(out.UploadMinRate, prod.UploadMinRate)
	out.UploadRateGrace = cmp.Or(out.UploadRateGrace, prod.UploadRateGrace)
	return &out
}

// New takes explicit values: a configuration without them is refused with
// every missing value named, not run with hidden defaults.
func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	t.Parallel()
	deps := &Deps{
		Logger:    zerolog.Nop(),
		Publisher: nopPublisher{},
		KeyLookup: func(context.Context, auth.Hash) (*store.KeyInfo, error) { return nil, store.ErrNotFound },
	}
	_, err := New(&Config{}, deps)
	require.Error(t, err)
	for _, name := range []string{"MaxBodyBytes", "BodyReadTimeout", "HeaderReadTimeout", "RequestTimeout", "KeyCacheTTL",
		"MaxInflightBodyBytes", "RateLimit.Rate", "WebhookRateLimit.Rate"} {
		require.ErrorContains(t, err, name)
	}

	bad := testConfig(t, &Config{})
	bad.MaxInflightBodyBytes = bad.MaxBodyBytes
	_, err = New(bad, deps)
	require.ErrorContains(t, err, "MaxInflightBodyBytes")

	// The production values, as apicmd passes them, are accepted.
	s, err := New(testConfig(t, &Config{}), deps)
	require.NoError(t, err)
	require.Equal(t, telemetry.DefaultMaxBatch, s.cfg.Limits.MaxBatch)
}
