package eventstream

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerUsers(t *testing.T) {
	t.Parallel()
	_, err := Role("admin").Permissions()
	require.ErrorContains(t, err, `unknown NATS role "admin"`)
	_, err = ServerUsers(map[Role]string{RoleAPI: "a", RoleWorker: "w"})
	require.ErrorContains(t, err, "NATS user exporter has no password")

	users, err := ServerUsers(map[Role]string{RoleAPI: "a", RoleWorker: "w", RoleExporter: "e"})
	require.NoError(t, err)
	raw, err := json.Marshal(users)
	require.NoError(t, err)
	var got []struct {
		User        string `json:"user"`
		Permissions struct {
			Publish   struct{ Allow []string } `json:"publish"`
			Subscribe struct{ Allow []string } `json:"subscribe"`
			Responses *struct{ Max int }       `json:"responses"`
		} `json:"permissions"`
	}
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Len(t, got, 3)
	// Only the api publishes telemetry; only the exporter answers requests;
	// each role reads replies on its own inbox only.
	for _, u := range got {
		require.Equal(t, u.User == "api", slices.Contains(u.Permissions.Publish.Allow, SubjectsFilter), u.User)
		require.Equal(t, u.User == "exporter", u.Permissions.Responses != nil, u.User)
		require.Contains(t, u.Permissions.Subscribe.Allow, "_INBOX."+u.User+".>")
		require.NotContains(t, u.Permissions.Subscribe.Allow, "_INBOX.>")
	}
}
