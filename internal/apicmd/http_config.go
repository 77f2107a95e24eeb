package apicmd

import (
	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/httpapi"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// HTTPConfig is the api server's configuration from cfg; tests that run the
// api in process build it the same way from config.APIFromEnv.
func HTTPConfig(cfg *config.API) *httpapi.Config {
	return &httpapi.Config{
		WebhookRateLimit: ratelimit.Config{
			Rate: cfg.WebhookRateLimit, Burst: cfg.WebhookRateBurst, MaxKeys: cfg.RateLimitMaxKeys,
		},
		Limits:       telemetry.Limits{MaxBatch: cfg.MaxBatch},
		MaxBodyBytes: cfg.MaxBodyBytes,
		RateLimit:    ratelimit.Config{Rate: cfg.RateLimit, Burst: cfg.RateBurst, MaxKeys: cfg.RateLimitMaxKeys},
		ClientIP:     ratelimit.ClientIP{TrustedProxies: cfg.TrustedProxies},
		KeyStaleMax:  cfg.AuthStaleMax,

		MaxInflightBodyBytes: cfg.MaxInflightBodyBytes,
		UploadMinRate:        cfg.UploadMinRate,
		UploadRateGrace:      cfg.UploadRateGrace,

		BodyReadTimeout:   cfg.BodyReadTimeout,
		HeaderReadTimeout: cfg.HeaderReadTimeout,
		RequestTimeout:    cfg.RequestTimeout,
		KeyCacheTTL:       cfg.KeyCacheTTL,
	}
}
