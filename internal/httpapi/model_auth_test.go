package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
)

// Who may upload and read models: an app's secret key, for that app only.
func TestModelRoutes_Auth(t *testing.T) {
	t.Parallel()

	t.Run("Keys", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		tests := []struct {
			name     string
			headers  map[string]string
			appName  string
			want     int
			wantCode string
		}{
			{"MissingKey", nil, "game-a", 401, "unauthorized"},
			{"OtherAppsKeyForThisApp", map[string]string{"x-api-key": b.appB.SecretKey}, "game-a", 403, "app_mismatch"},
			{"OtherAppsName", map[string]string{"x-api-key": b.appA.SecretKey}, "game-b", 403, "app_mismatch"},
			{"PublicTokenAsBearer", map[string]string{"authorization": "Bearer " + b.appA.PublicToken}, "game-a", 403, "forbidden"},
			{"PublicTokenInAPIKey", map[string]string{"x-api-key": b.appA.PublicToken}, "game-a", 403, "forbidden"},
			{"PublicTokenInPublicHeader", map[string]string{"x-public-token": b.appA.PublicToken}, "game-a", 401, "unauthorized"},
			{"SecretViaAPIKey", b.secretA(), "game-a", 201, ""},
			{"SecretViaBearer", map[string]string{"authorization": "Bearer " + b.appA.SecretKey}, "game-a", 201, ""},
			{"SecretViaLowercaseBearer", map[string]string{"authorization": "bearer " + b.appA.SecretKey}, "game-a", 201, ""},
			{"WrongBearer", map[string]string{"authorization": "Bearer " + auth.NewKey(auth.KindSecret)}, "game-a", 401, "unauthorized"},
			{"WrongKey", map[string]string{"x-api-key": auth.NewKey(auth.KindSecret)}, "game-a", 401, "unauthorized"},
		}
		created := 0
		for _, tt := range tests {
			resp := b.upload(t, modelParts(tt.appName, "Level_1", testGLB), tt.headers)
			require.Equal(t, tt.want, resp.Status, "%s: %s", tt.name, resp.Raw)
			if tt.want == 201 {
				created++
				require.Equal(t, b.appA.AppID.String(), resp.Body["app_id"], tt.name)
				require.Equal(t, float64(created), resp.Body["version"], tt.name)
				continue
			}
			require.Equal(t, tt.wantCode, resp.Body["error"], tt.name)
			require.NotEmpty(t, resp.Body["message"], tt.name)
		}
		require.Equal(t, created, b.rowCount(t))

		// The read routes take the same keys.
		require.Equal(t, 401, b.get(t, "/api/models", nil).Status)
		require.Equal(t, 403, b.get(t, "/api/models", map[string]string{"x-api-key": b.appA.PublicToken}).Status)
		require.Equal(t, 200, b.get(t, "/api/models", map[string]string{"authorization": "Bearer " + b.appA.SecretKey}).Status)
	})

	t.Run("WrongAppNameBeforeTheFileStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := newModelFixture(t)
		resp := b.upload(t, modelParts("game-b", "Level_1", testGLB), b.secretA())
		require.Equal(t, 403, resp.Status)
		require.Equal(t, "app_mismatch", resp.Body["error"])
		require.Equal(t, "app_name", resp.Body["field"])
		require.Empty(t, b.storedFiles(t))

		// After the file, the blob is already stored (an orphan, see
		// handleModelUpload) but no row is written.
		parts := modelParts("game-b", "Level_1", testGLB)
		resp = b.upload(t, []modelPart{parts[2], parts[1], parts[0]}, b.secretA())
		require.Equal(t, 403, resp.Status)
		require.Zero(t, b.rowCount(t))
	})
}
