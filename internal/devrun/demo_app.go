package devrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// File names devrun keeps in DATA_DIR.
const (
	// DemoAppFile holds the demo app's credentials, as `gamepipe apps create
	// --json` printed them on the first start.
	DemoAppFile = "demo-app.json"
	// DemoEventFile holds a MessagePack gameplay event for the demo app,
	// rewritten at every start, for the printed curl command to post.
	DemoEventFile = "demo-event.msgpack"
)

// DemoApp is the app devrun creates on the first start so that a developer
// can send events right away.
type DemoApp struct {
	AppID       string `json:"app_id"`
	PublicToken string `json:"public_token"`
	SecretKey   string `json:"secret_key"`

	// raw is the JSON object as gamepipe printed it, which SaveDemoApp
	// keeps as it is, with any fields devrun does not know.
	raw []byte
}

// ParseDemoApp reads the output of `gamepipe apps create --json`: the JSON
// object, or failing that the last line of the output that is one.
func ParseDemoApp(out []byte) (*DemoApp, error) {
	var app DemoApp
	app.raw = bytes.TrimSpace(out)
	err := json.Unmarshal(app.raw, &app)
	if err != nil {
		lines := bytes.Split(app.raw, []byte("\n"))
		app.raw = bytes.TrimSpace(lines[len(lines)-1])
		if json.Unmarshal(app.raw, &app) != nil {
			return nil, fmt.Errorf("error reading app credentials from %q: %w", truncate(out, 200), err)
		}
	}
	switch {
	case app.AppID == "":
		return nil, errors.New("app credentials have no app_id")
	case app.PublicToken == "":
		return nil, errors.New("app credentials have no public_token")
	case app.SecretKey == "":
		return nil, errors.New("app credentials have no secret_key")
	}
	return &app, nil
}

// LoadDemoApp reads the demo app saved in dataDir. The error wraps
// os.ErrNotExist when there is none yet.
func LoadDemoApp(dataDir string) (*DemoApp, error) {
	path := filepath.Join(dataDir, DemoAppFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("error reading demo app: %w", err)
	}
	app, err := ParseDemoApp(b)
	if err != nil {
		return nil, fmt.Errorf("error reading %s (delete it to create a new demo app): %w", path, err)
	}
	return app, nil
}

// SaveDemoApp saves the demo app in dataDir, readable by the owner only: it
// holds a secret key. An app from ParseDemoApp is saved as gamepipe printed
// it.
func SaveDemoApp(dataDir string, app *DemoApp) error {
	b := app.raw
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
func DemoInstructions(app *DemoApp, apiBase, appFile, eventPath string) string {
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

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
