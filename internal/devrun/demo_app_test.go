package devrun

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/demoapp"
)

const demoJSON = `{"app_id":"72ab8f81-ef36-4712-a046-399a62b9afaa","public_token":"pt_1","secret_key":"sk_1"}`

func TestSaveLoadDemoApp(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")

	_, err := demoapp.Load(dir)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)

	out := strings.Replace(demoJSON, "{", `{"name":"demo",`, 1)
	app, err := demoapp.Parse([]byte("log line\n" + out + "\n"))
	require.NoError(t, err)
	require.NoError(t, SaveDemoApp(dir, app))

	path := filepath.Join(dir, DemoAppFile)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "it holds a secret key")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, out+"\n", string(b), "saved as gamepipe printed it")

	loaded, err := demoapp.Load(dir)
	require.NoError(t, err)
	require.Equal(t, app.AppID, loaded.AppID)
	require.Equal(t, app.SecretKey, loaded.SecretKey)

	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
	_, err = demoapp.Load(dir)
	require.ErrorContains(t, err, "delete it to create a new demo app")
}

func TestDemoEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 2, 12, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	b, err := DemoEvent("72ab8f81-ef36-4712-a046-399a62b9afaa", at)
	require.NoError(t, err)
	require.Equal(t, byte(0x8a), b[0], "a fixmap of the 10 fields of the document's gameplay example")

	var got map[string]any
	require.NoError(t, msgpack.Unmarshal(b, &got))
	require.Equal(t, map[string]any{
		"event_name":   "Player_Jump",
		"app_id":       "72ab8f81-ef36-4712-a046-399a62b9afaa",
		"build_id":     "devrun_demo_1.0.0",
		"player_id":    "demo-player",
		"session_id":   "demo-session",
		"level_id":     "Level_1",
		"position":     []any{10.5, 0.0, -5.2},
		"custom_data":  map[string]any{"ammo": int8(10), "weapon": "Sword"},
		"input_method": "Gamepad",
		"timestamp":    "2026-02-12T09:00:00Z",
	}, got)

	again, err := DemoEvent("72ab8f81-ef36-4712-a046-399a62b9afaa", at)
	require.NoError(t, err)
	require.Equal(t, b, again, "the encoding is deterministic")
}

func TestWriteDemoEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, err := WriteDemoEvent(dir, "app", time.Now())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, DemoEventFile), path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, msgpack.Unmarshal(b, &got))
	require.Equal(t, "app", got["app_id"])
}

func TestDemoInstructions(t *testing.T) {
	t.Parallel()
	app := &demoapp.App{AppID: "a1", PublicToken: "pt_it's", SecretKey: "sk"}
	text := DemoInstructions(app, "http://localhost:4000", "data/demo-app.json", "data/demo-event.msgpack")
	require.Contains(t, text, "    app_id        a1\n")
	require.Contains(t, text, "    secret_key    sk\n")
	require.Contains(t, text, `
curl -sS -X POST http://localhost:4000/api/events -H 'content-type: application/msgpack' -H 'x-public-token: pt_it'\''s' --data-binary @data/demo-event.msgpack
`)
	require.Contains(t, text, "dashboard (docs/dashboard.md): http://localhost:4000/dashboard/analytics\n")
	require.Contains(t, text, "\n./bin/gamepipe demo-data --app a1 --api http://localhost:4000\n")

	text = DemoInstructions(app, "http://localhost:4000", "my data/demo-app.json", "my data/demo-event.msgpack")
	require.Contains(t, text, "--data-binary @'my data/demo-event.msgpack'\n")
}

// TestShellQuote checks the quoting with a real shell.
func TestShellQuote(t *testing.T) {
	t.Parallel()
	requireSh(t)
	for _, s := range []string{"plain", "it's", `a "b" $c`, "x-public-token: tok'en", ""} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+shellQuote(s)).Output()
		require.NoError(t, err)
		require.Equal(t, s, string(out))
	}
	require.Equal(t, "data/x.msgpack", shellQuoteIfNeeded("data/x.msgpack"))
	require.Equal(t, "'a b'", shellQuoteIfNeeded("a b"))
}
