package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAppShareFromEnv(t *testing.T) {
	t.Parallel()
	c, err := WorkerFromEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, 10, c.AppKinetixInFlight)
	require.Equal(t, 5, c.AppGeneraitivInFlight)
	require.Equal(t, 2*time.Second, c.AppJobWait)
	require.Equal(t, int64(10<<30), c.AppStorageQuotaBytes)
	require.Equal(t, 0.5, c.GeneraitivAppShare)

	c, err = WorkerFromEnv(env(map[string]string{"APP_STORAGE_QUOTA_BYTES": "off", "APP_KINETIX_IN_FLIGHT": "3"}))
	require.NoError(t, err)
	require.Zero(t, c.AppStorageQuotaBytes)
	require.Equal(t, 3, c.AppKinetixInFlight)

	for name, v := range map[string]string{"GENERAITIV_APP_SHARE": "1.5", "APP_GENERAITIV_IN_FLIGHT": "0", "APP_STORAGE_QUOTA_BYTES": "lots"} {
		_, err := WorkerFromEnv(env(map[string]string{name: v}))
		require.ErrorContains(t, err, name)
	}
}
