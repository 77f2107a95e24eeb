package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAPIConnectionAndBodyLimits(t *testing.T) {
	t.Parallel()
	c, err := APIFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), c.MaxInflightBodyBytes)
	require.Equal(t, 10_000, c.MaxConnections)
	require.Equal(t, int64(64<<10), c.UploadMinRate)
	require.Equal(t, 10*time.Second, c.UploadRateGrace)

	c, err = APIFromEnv(env(map[string]string{
		"MAX_INFLIGHT_BODY_BYTES": "16MiB", "MAX_CONNECTIONS": "500", "UPLOAD_MIN_RATE": "1MiB", "UPLOAD_RATE_GRACE": "3s",
	}))
	require.NoError(t, err)
	require.Equal(t, int64(16<<20), c.MaxInflightBodyBytes)
	require.Equal(t, 500, c.MaxConnections)
	require.Equal(t, int64(1<<20), c.UploadMinRate)
	require.Equal(t, 3*time.Second, c.UploadRateGrace)

	c, err = APIFromEnv(env(map[string]string{"UPLOAD_MIN_RATE": "off"}))
	require.NoError(t, err)
	require.Equal(t, int64(-1), c.UploadMinRate, "off: no floor")

	for name, bad := range map[string]string{
		"MAX_INFLIGHT_BODY_BYTES": "2MiB", // not twice MAX_BODY_BYTES and gzip's state
		"MAX_CONNECTIONS":         "0",
		"UPLOAD_MIN_RATE":         "fast",
		"UPLOAD_RATE_GRACE":       "-1s",
	} {
		_, err := APIFromEnv(env(map[string]string{name: bad}))
		require.ErrorContains(t, err, name, bad)
	}
	_, err = APIFromEnv(env(map[string]string{"MAX_BODY_BYTES": "262144", "MAX_INFLIGHT_BODY_BYTES": "560KiB"}))
	require.NoError(t, err, "twice 256 KiB plus 48 KiB")
}
