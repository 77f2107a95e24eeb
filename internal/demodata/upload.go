package demodata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// ModelLevels are the demo levels players walk on, each with the format
// UploadModels sends its model in (both formats the Levels page reads
// from this generator).
var ModelLevels = []struct{ Level, Format string }{
	{"Level_1", "glb"}, {"Level_2", "obj"}, {"Level_3_Jungle", "glb"},
}

// UploadModels uploads DemoLevel's model of every ModelLevels level that
// has no model yet, through POST /api/models with the app's secret key, and
// returns the levels it uploaded. The app's name, which the upload must
// repeat, comes from GET /dashboard/api/session.
func UploadModels(ctx context.Context, client *http.Client, apiBase, secretKey string) ([]string, error) {
	base := strings.TrimSuffix(apiBase, "/")
	var session struct {
		SignedIn bool   `json:"signed_in"`
		AppName  string `json:"app_name"`
	}
	if err := getJSON(ctx, client, base+"/dashboard/api/session", secretKey, &session); err != nil {
		return nil, err
	}
	if !session.SignedIn {
		return nil, fmt.Errorf("the secret key is not the app's")
	}
	var uploaded []string
	for _, l := range ModelLevels {
		var list struct {
			Models []json.RawMessage `json:"models"`
		}
		if err := getJSON(ctx, client, base+"/api/models?limit=1&level_name="+url.QueryEscape(l.Level), secretKey, &list); err != nil {
			return uploaded, err
		}
		if len(list.Models) > 0 {
			continue
		}
		m := DemoLevel(l.Level)
		file := m.OBJ()
		if l.Format == "glb" {
			var err error
			if file, err = m.GLB(); err != nil {
				return uploaded, err
			}
		}
		if err := uploadModel(ctx, client, base, secretKey, session.AppName, l.Level, strings.ToLower(l.Level)+"."+l.Format, file); err != nil {
			return uploaded, err
		}
		uploaded = append(uploaded, l.Level)
	}
	return uploaded, nil
}

func getJSON(ctx context.Context, client *http.Client, u, secretKey string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key", secretKey)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("error asking %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, out)
}

func uploadModel(ctx context.Context, client *http.Client, base, secretKey, appName, level, filename string, file []byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("app_name", appName) // writes to a bytes.Buffer never fail
	_ = mw.WriteField("level_name", level)
	fw, _ := mw.CreateFormFile("model_file", filename)
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/models", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Api-Key", secretKey)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("error uploading the model of %s: %w", level, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /api/models for %s answered %d: %s", level, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
