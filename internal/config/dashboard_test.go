package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAPIDashboard(t *testing.T) {
	t.Parallel()
	cfg, err := APIFromEnv(env(map[string]string{"DATABASE_URL": "postgres://db/main"}))
	require.NoError(t, err)
	require.Equal(t, "postgres://db/main", cfg.DatabaseReadURL, "reads go to DATABASE_URL by default")
	require.Equal(t, 10*time.Second, cfg.DashboardQueryTimeout)
	require.Equal(t, 12*time.Hour, cfg.DashboardSessionTTL)
	require.Equal(t, 5*time.Second, cfg.RejectionsFlushInterval)

	cfg, err = APIFromEnv(env(map[string]string{"DATABASE_READ_URL": "postgres://replica/main",
		"DASHBOARD_QUERY_TIMEOUT": "30s", "DASHBOARD_SESSION_TTL": "1h", "REJECTIONS_FLUSH_INTERVAL": "1m"}))
	require.NoError(t, err)
	require.Equal(t, "postgres://replica/main", cfg.DatabaseReadURL)
	require.Equal(t, 30*time.Second, cfg.DashboardQueryTimeout)
	require.Equal(t, time.Hour, cfg.DashboardSessionTTL)
	require.Equal(t, time.Minute, cfg.RejectionsFlushInterval)

	for name, bad := range map[string]string{
		"DATABASE_READ_URL": "mysql://x/y", "DASHBOARD_QUERY_TIMEOUT": "0s", "DASHBOARD_SESSION_TTL": "a day",
		"REJECTIONS_FLUSH_INTERVAL": "0s",
	} {
		_, err := APIFromEnv(env(map[string]string{name: bad}))
		require.ErrorContains(t, err, name)
	}
}
