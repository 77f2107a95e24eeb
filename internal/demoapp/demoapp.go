// Package demoapp reads the demo app's credentials that `make run` (package
// devrun) saves in DATA_DIR, so the tools that drive a local stack (loadgen,
// benchrun) find them without depending on devrun. devrun writes the file.
package demoapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is the name of the credentials file in DATA_DIR, holding what
// `gamepipe apps create --json` printed on the first start.
const File = "demo-app.json"

// App is the demo app's credentials.
type App struct {
	AppID       string `json:"app_id"`
	PublicToken string `json:"public_token"`
	SecretKey   string `json:"secret_key"`

	// Raw is the JSON object as gamepipe printed it, with any fields App
	// does not name; saving it keeps them.
	Raw []byte `json:"-"`
}

// Parse reads the output of `gamepipe apps create --json`: the JSON object,
// or failing that the last line of the output that is one.
func Parse(out []byte) (*App, error) {
	var app App
	app.Raw = bytes.TrimSpace(out)
	err := json.Unmarshal(app.Raw, &app)
	if err != nil {
		lines := bytes.Split(app.Raw, []byte("\n"))
		app.Raw = bytes.TrimSpace(lines[len(lines)-1])
		if json.Unmarshal(app.Raw, &app) != nil {
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

// Load reads the demo app saved in dataDir. The error wraps os.ErrNotExist
// when there is none yet.
func Load(dataDir string) (*App, error) {
	path := filepath.Join(dataDir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("error reading demo app: %w", err)
	}
	app, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("error reading %s (delete it to create a new demo app): %w", path, err)
	}
	return app, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
