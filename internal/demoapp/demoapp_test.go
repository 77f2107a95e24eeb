package demoapp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const demoJSON = `{"app_id":"72ab8f81-ef36-4712-a046-399a62b9afaa","public_token":"pt_1","secret_key":"sk_1"}`

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     string
		wantErr string
	}{
		{"Exact", demoJSON, ""},
		{"TrailingNewline", demoJSON + "\n", ""},
		{"LogLineFirst", "INF creating app\n" + demoJSON + "\n", ""},
		{"ExtraField", strings.Replace(demoJSON, "{", `{"name":"demo",`, 1), ""},
		{"NotJSON", "oops", "error reading app credentials"},
		{"Empty", "", "error reading app credentials"},
		{"NoAppID", strings.Replace(demoJSON, `"app_id"`, `"id"`, 1), "no app_id"},
		{"NoPublicToken", strings.Replace(demoJSON, `"pt_1"`, `""`, 1), "no public_token"},
		{"NoSecretKey", strings.Replace(demoJSON, `"secret_key"`, `"secret"`, 1), "no secret_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, err := Parse([]byte(tt.out))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "72ab8f81-ef36-4712-a046-399a62b9afaa", app.AppID)
			require.Equal(t, "pt_1", app.PublicToken)
			require.Equal(t, "sk_1", app.SecretKey)
		})
	}
}
