package gamepipecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gamepipe/gamepipe/internal/config"
	"github.com/gamepipe/gamepipe/internal/demodata"
)

// demoData is `gamepipe demo-data`: a week of realistic telemetry for an
// app, sent through the api's POST /api/events, and a model of each demo
// level through POST /api/models when the app's secret key is at hand
// (docs/dashboard.md).
func demoData(ctx context.Context, cfg *config.Common, args []string, stdout, stderr io.Writer) error {
	c := newAppCommand("demo-data", stderr)
	token := c.String("token", "", "the app's public token (default: the demo app's, from DATA_DIR/demo-app.json)")
	key := c.String("key", "", "the app's secret key, to upload the demo levels' models (default: the demo app's, from DATA_DIR/demo-app.json; none: no models)")
	api := c.String("api", "http://localhost:4000", "the api's base URL")
	players := c.Int("players", 300, "how many players to simulate")
	days := c.Int("days", 7, "over how many days, up to now")
	id, err := c.parse(args)
	if err != nil {
		return err
	}
	if *players < 1 || *players > 100_000 || *days < 1 || *days > 90 {
		return fmt.Errorf("%w: --players must be 1 to 100000 and --days 1 to 90", ErrUsage)
	}
	if *token == "" {
		if *token, err = demoAppToken(cfg.DataDir, id); err != nil {
			return err
		}
		if *key == "" {
			*key, _ = demoAppKey(cfg.DataDir, id)
		}
	}
	events, err := demodata.Events(&demodata.Config{AppID: id.String(), Players: *players, Days: *days, End: time.Now()})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	sent, err := demodata.Send(ctx, client, *api, *token, events, 500)
	if err != nil {
		return fmt.Errorf("error sending demo telemetry after %d events: %w", sent, err)
	}
	fmt.Fprintf(stdout, "sent %d events of %d players over %d days to %s\n", sent, *players, *days, *api)
	if *key != "" {
		levels, err := demodata.UploadModels(ctx, client, *api, *key)
		if err != nil {
			return fmt.Errorf("error uploading the demo levels' models: %w", err)
		}
		if len(levels) > 0 {
			fmt.Fprintf(stdout, "uploaded models of %s (the Levels page shows them)\n", strings.Join(levels, ", "))
		}
	}
	fmt.Fprintf(stdout, "see them at %s/dashboard/analytics (sign in with the app's secret key)\n", *api)
	return nil
}

// demoAppToken reads the public token of the demo app that make run saved
// in dataDir, when it is the app asked for.
func demoAppToken(dataDir string, app uuid.UUID) (string, error) {
	saved, err := readDemoApp(dataDir, app)
	if err != nil {
		return "", err
	}
	return saved.PublicToken, nil
}

// demoAppKey reads the demo app's secret key the same way.
func demoAppKey(dataDir string, app uuid.UUID) (string, error) {
	saved, err := readDemoApp(dataDir, app)
	if err != nil {
		return "", err
	}
	return saved.SecretKey, nil
}

// savedDemoApp is what demo-data reads of DATA_DIR/demo-app.json.
type savedDemoApp struct {
	AppID       string `json:"app_id"`
	PublicToken string `json:"public_token"`
	SecretKey   string `json:"secret_key"`
}

func readDemoApp(dataDir string, app uuid.UUID) (*savedDemoApp, error) {
	path := filepath.Join(dataDir, "demo-app.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --token is required (no demo app in %s)", ErrUsage, path)
	}
	var saved savedDemoApp
	if err := json.Unmarshal(b, &saved); err != nil || saved.AppID != app.String() || saved.PublicToken == "" {
		return nil, fmt.Errorf("%w: --token is required (%s is not app %s's)", ErrUsage, path, app)
	}
	return &saved, nil
}
