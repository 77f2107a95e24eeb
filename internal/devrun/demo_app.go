package devrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/gamepipe/gamepipe/internal/demoapp"
)

// File names devrun keeps in DATA_DIR.
const (
	// DemoAppFile holds the demo app's credentials (package demoapp
	// reads it).
	DemoAppFile = demoapp.File
	// DemoEventFile holds a MessagePack gameplay event for the demo app,
	// rewritten at every start, for the printed curl command to post.
	DemoEventFile = "demo-event.msgpack"
)

// SaveDemoApp saves the demo app in dataDir, readable by the owner only: it
// holds a secret key. An app from demoapp.Parse is saved as gamepipe
// printed it.
func SaveDemoApp(dataDir string, app *demoapp.App) error {
	b := app.Raw
	if b == nil {
		var err error
		if b, err = json.Marshal(app); err != nil {
			return fmt.Errorf("error encoding demo app: %w", err)
		}
	}
	data := append(append([]byte(nil), b...), '\n')
	return writeFileAtomic(filepath.Join(dataDir, DemoAppFile), data, 0o600)
}

// demoEvent is a gameplay event as the ingestion document's example shows it.
type demoEvent struct {
	EventName   string         `msgpack:"event_name"`
	AppID       string         `msgpack:"app_id"`
	BuildID     string         `msgpack:"build_id"`
	PlayerID    string         `msgpack:"player_id"`
	SessionID   string         `msgpack:"session_id"`
	LevelID     string         `msgpack:"level_id"`
	Position    []float64      `msgpack:"position"`
	CustomData  map[string]any `msgpack:"custom_data"`
	InputMethod string         `msgpack:"input_method"`
	Timestamp   string         `msgpack:"timestamp"`
}

// DemoEvent encodes one MessagePack gameplay event for appID at time at.
func DemoEvent(appID string, at time.Time) ([]byte, error) {
	ev := demoEvent{
		EventName:   "Player_Jump",
		AppID:       appID,
		BuildID:     "devrun_demo_1.0.0",
		PlayerID:    "demo-player",
		SessionID:   "demo-session",
		LevelID:     "Level_1",
		Position:    []float64{10.5, 0.0, -5.2},
		CustomData:  map[string]any{"weapon": "Sword", "ammo": 10},
		InputMethod: "Gamepad",
		Timestamp:   at.UTC().Format(time.RFC3339),
	}
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(&ev); err != nil {
		return nil, fmt.Errorf("error encoding demo event: %w", err)
	}
	return b.Bytes(), nil
}

// WriteDemoEvent writes DemoEvent(appID, at) to dataDir and returns its path.
func WriteDemoEvent(dataDir, appID string, at time.Time) (string, error) {
	b, err := DemoEvent(appID, at)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, DemoEventFile)
	return path, writeFileAtomic(path, b, 0o644)
}

// DemoInstructions is what devrun prints about the demo app: its
// credentials and a curl command, ready to paste, that posts eventPath to
// the API at apiBase (such as http://localhost:4000).
func DemoInstructions(app *demoapp.App, apiBase, appFile, eventPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  demo app (saved in %s):\n", appFile)
	fmt.Fprintf(&b, "    app_id        %s\n", app.AppID)
	fmt.Fprintf(&b, "    public_token  %s\n", app.PublicToken)
	fmt.Fprintf(&b, "    secret_key    %s\n", app.SecretKey)
	fmt.Fprintf(&b, "\n  send it a gameplay event (MessagePack, in %s):\n\n", eventPath)
	fmt.Fprintf(&b, "curl -sS -X POST %s/api/events -H 'content-type: application/msgpack' -H %s --data-binary @%s\n",
		apiBase, shellQuote("x-public-token: "+app.PublicToken), shellQuoteIfNeeded(eventPath))
	fmt.Fprintf(&b, "\n  the analytics dashboard (docs/dashboard.md): %s/dashboard/analytics\n", apiBase)
	fmt.Fprintf(&b, "    sign in with the secret_key above; fill it with a week of demo telemetry:\n\n")
	fmt.Fprintf(&b, "./bin/gamepipe demo-data --app %s --api %s\n", app.AppID, apiBase)
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellQuoteIfNeeded quotes s unless it is made only of characters a shell
// leaves alone.
func shellQuoteIfNeeded(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)) {
			return shellQuote(s)
		}
	}
	return s
}

// writeFileAtomic writes a file through a temporary file and a rename, so a
// crash never leaves half of it, and with perm applied even if it existed.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("error creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("error writing %s: %w", path, err)
	}
	return nil
}
