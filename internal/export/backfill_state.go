package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// backfillState is what a backfill has finished, saved after every hour.
// It holds for one app and range; a run with another range starts over.
type backfillState struct {
	AppID string    `json:"app_id"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Done is, per kind, the start of the last hour written completely.
	// Hours are written in order, so every earlier hour is done too.
	Done map[telemetry.Kind]time.Time `json:"done"`
}

// loadBackfillState reads the state at path for this app and range, or
// starts a fresh one.
func loadBackfillState(path, appID string, from, to time.Time) (*backfillState, error) {
	fresh := &backfillState{AppID: appID, From: from, To: to, Done: map[telemetry.Kind]time.Time{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading backfill state: %w", err)
	}
	st := &backfillState{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("error decoding backfill state %s: %w", path, err)
	}
	if st.AppID != appID || !st.From.Equal(from) || !st.To.Equal(to) || st.Done == nil {
		return fresh, nil
	}
	return st, nil
}

// done reports whether hour of kind was finished.
func (s *backfillState) done(kind telemetry.Kind, hour time.Time) bool {
	last, ok := s.Done[kind]
	return ok && !hour.After(last)
}

// save writes the state atomically.
func (s *backfillState) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("error encoding backfill state: %w", err)
	}
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}
