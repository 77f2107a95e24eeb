package generaitivsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// conformanceCase is one documented route: how the document calls it and
// every field of its example answer with the example's JSON type ("s"
// string, "n" number, "b" boolean, "o" object, "a" array). A field path is
// dotted; "result[0].x" looks in the first element.
type conformanceCase struct {
	name   string
	method string
	// path is the form the document writes, below the base URL.
	path string
	// strictForm: the other trailing-slash form must be a 404.
	strictForm bool
	body       any
	status     int
	fields     map[string]string
}

// tokenFields are the fields of a /q/latest-tokens item.
var latestTokenFields = map[string]string{
	"collection": "s", "tokenId": "s", "creator": "s", "status": "s", "explicit": "b", "virtual_address": "s",
	"content_moderation_score": "n", "model": "s", "slug": "s", "metadata": "o", "metadata.name": "s",
	"metadata.description": "s", "metadata.image": "s", "created_at": "s", "listing": "o", "listing.price": "s",
	"listing.startTime": "s", "listing.endTime": "s", "listing.amount": "s",
}

// conformanceCases is the document's routes in its order.
func conformanceCases(madeID, nextID string) []conformanceCase {
	prefix := func(p string, m map[string]string) map[string]string {
		out := map[string]string{strings.TrimSuffix(p, "."): "o"}
		for k, v := range m {
			out[p+k] = v
		}
		return out
	}
	collectionFields := map[string]string{
		"name": "s", "slug": "s", "address": "s", "description": "s", "explicit": "b", "image": "s", "twitter": "s",
		"twitter_verified": "b", "owner": "s", "virtual": "b", "royalty_fee": "n", "virtual_address": "s",
	}
	userCollection := map[string]string{"status": "s", "slugOrAddress": "s"}
	for k, v := range collectionFields {
		userCollection[k] = v
	}
	trainingFields := prefix("[0].", map[string]string{"id": "s", "name": "s", "description": "s", "status": "s",
		"owner": "s", "source_model_slug": "s"})
	return []conformanceCase{
		{name: "LatestTokens", method: "GET", path: "q/latest-tokens/?page=0&page_size=50", strictForm: true, status: 200,
			fields: merge(map[string]string{"result": "a"}, prefix("result[0].", latestTokenFields))},
		{name: "LatestCollections", method: "GET", path: "q/latest-collections/?page=0&page_size=50", strictForm: true, status: 200,
			fields: merge(map[string]string{"result": "a"}, prefix("result[0].", map[string]string{
				"address": "s", "name": "s", "slug": "s", "description": "s", "owner": "s", "explicit": "b", "image": "s",
				"virtual": "b", "created_at": "s"}))},
		{name: "CollectionTokensBySlug", method: "GET", path: "tokens/collection/red-every-day/?cursor=0", strictForm: true, status: 200,
			fields: merge(map[string]string{"pageSize": "n", "result": "a"}, prefix("result[0].", map[string]string{
				"metadata": "o", "metadata.name": "s", "metadata.description": "s", "metadata.image": "s",
				"token_refresh_requested_at": "s", "tokenId": "s", "collection": "s", "status": "s", "total": "s",
				"entity": "s", "name": "s", "created": "s", "modified": "s", "contract_type": "s", "token_uri": "s",
				"amount": "s", "virtual_address": "s", "pk": "s", "creator_address": "s"}))},
		{name: "CollectionTokensByAddress", method: "GET", path: "tokens/collection/0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95/?cursor=0",
			strictForm: true, status: 200, fields: map[string]string{"pageSize": "n", "result": "a", "result[0].tokenId": "s"}},
		{name: "UploadURL", method: "GET", path: "upload/token/" + madeID + "/a.jpg/", strictForm: true, status: 200,
			fields: map[string]string{"url": "s"}},
		{name: "User", method: "GET", path: "u/0x4e3A99830E5ffb86952B14aDBD5746ce84A6F6F3/", strictForm: true, status: 200,
			fields: map[string]string{"username": "s", "bio": "s", "link": "s", "image": "s", "address": "s", "twitter": "s",
				"twitter_verified": "b"}},
		{name: "UserCollections", method: "GET", path: "u/0x1BEC0E6266e97f0C7C42aa720959e46598DD8Ce1/collections/", strictForm: true,
			status: 200, fields: merge(map[string]string{"collections": "a"}, prefix("collections[0].", userCollection))},
		{name: "CollectionBySlug", method: "GET", path: "c/poetic-animations-by-ashu", status: 200, fields: collectionFields},
		{name: "CollectionByAddress", method: "GET", path: "c/0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95", status: 200,
			fields: collectionFields},
		{name: "Token", method: "GET", strictForm: true, status: 200,
			path: "c/0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95/0x1bec0e6266e97f0c7c42aa720959e46598dd8ce100000000000000000000004e/",
			fields: map[string]string{"collection": "s", "tokenId": "s", "amount": "s", "contract_type": "s", "name": "s",
				"token_uri": "s", "metadata": "o", "metadata.name": "s", "metadata.description": "s", "metadata.image": "s",
				"metadata.attributes": "a", "metadata.attributes[0].value": "s", "metadata.attributes[0].trait_type": "s",
				"total": "s", "creator_address": "s", "virtual_address": "s", "workload_id": "s"}},
		{name: "SlugFromID", method: "GET", strictForm: true, status: 200,
			path:   "c/virtual/slug-from-id/0x1bec0e6266e97f0c7c42aa720959e46598dd8ce100000000000000000000004e/",
			fields: map[string]string{"slug": "s"}},
		{name: "NextTokenID", method: "GET", path: "c/virtual/next/0xB6BdB5F73b6d717eb6949AeE9F9551298493390E", strictForm: true,
			status: 200, fields: map[string]string{"tokenId": "s"}},
		{name: "CreateToken", method: "POST", path: "c/virtual/token/aaabbb/" + nextID + "/", strictForm: true, status: 200,
			body: map[string]any{"tokenId": nextID, "amount": "0x" + strings.Repeat("0", 63) + "2",
				"attributes": []map[string]string{{"trait_type": "2", "value": "2"}}, "name": "2", "description": "2"},
			fields: map[string]string{"success": "s"}},
		{name: "UserInfo", method: "GET", path: "consumer/user-info/", strictForm: true, status: 200,
			fields: map[string]string{"address": "s"}},
		{name: "TrainingsOwnedBySlashMe", method: "GET", path: "training/owned-by/me", strictForm: true, status: 200, fields: trainingFields},
		{name: "TrainingsOwnedByMe", method: "GET", path: "training/owned-by-me", strictForm: true, status: 200, fields: trainingFields},
		{name: "GenerateWithWebhook", method: "POST", path: "consumer/gen", strictForm: true, status: 200,
			body:   genBody("stability-ai-sdxl", "https://your.callback.url/here"),
			fields: map[string]string{"id": "s"}},
		{name: "GenerateForWebsocket", method: "POST", path: "consumer/gen", strictForm: true, status: 200,
			body:   genBody("stability-ai-sdxl", ""),
			fields: map[string]string{"id": "s", "workload_id": "s", "jwt": "s"}},
		{name: "GenerateCustomModelRefused", method: "POST", path: "consumer/gen", status: 400,
			body:   genBody("0x"+strings.Repeat("f", 64), ""),
			fields: map[string]string{"error": "s", "message": "s"}},
		{name: "GeneratePlaceholderModelRefused", method: "POST", path: "consumer/gen", status: 400,
			body:   genBody("<model slug without brackets>", ""),
			fields: map[string]string{"error": "s", "message": "s"}},
	}
}

// genBody is the document's generation request.
func genBody(model, webhook string) map[string]any {
	b := map[string]any{"model": model, "input": map[string]any{
		"prompt": "Example", "prompt_strength": 0.8, "refine": "no_refiner", "scheduler": "K_EULER",
		"disable_safety_checker": true, "high_noise_frac": 0.8, "lora_scale": 0.6, "guidance_scale": 7.5,
		"width": 1024, "height": 1024, "num_inference_steps": 50,
	}}
	if webhook != "" {
		b["webhook"] = webhook
	}
	return b
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

var (
	docTime    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	docAddress = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	// timeFields and addressFields are the document's fields holding times
	// (written with milliseconds) and wallet or contract addresses (written
	// in checksum case).
	timeFields    = map[string]bool{"created_at": true, "created": true, "modified": true, "token_refresh_requested_at": true}
	addressFields = map[string]bool{"collection": true, "creator": true, "virtual_address": true, "address": true, "owner": true,
		"creator_address": true}
)

// TestConformance calls every route of Generaitiv's API documentation the way the
// document does and checks the answer has every field of the document's
// example with its type, addresses in checksum case, times with
// milliseconds, and that the other trailing-slash form of a path is a 404.
func TestConformance(t *testing.T) {
	t.Parallel()
	bundle := setup(t, nil)
	_, _, raw := bundle.call(t, "GET", "/v1/consumer/user-info/", nil)
	var me struct{ Address string }
	require.NoError(t, json.Unmarshal(raw, &me))
	nextID := tokenID(me.Address, 1)
	// The upload route needs a token of the caller's.
	status, _, raw := bundle.call(t, "POST", "/v1/c/virtual/token/mine/"+nextID+"/",
		map[string]any{"tokenId": nextID, "amount": amount(1), "name": "n", "description": "d"})
	require.Equal(t, http.StatusOK, status, string(raw))
	madeID, nextID := nextID, tokenID(me.Address, 2)

	for _, tc := range conformanceCases(madeID, nextID) {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, raw := bundle.call(t, tc.method, "/v1/"+tc.path, tc.body)
			require.Equal(t, tc.status, status, string(raw))
			require.Contains(t, hdr.Get("Content-Type"), "application/json")
			var doc any
			require.NoError(t, json.Unmarshal(raw, &doc))
			for field, kind := range tc.fields {
				v, ok := lookup(doc, field)
				require.True(t, ok, "field %s missing in %s", field, raw)
				require.Equal(t, kind, kindOf(v), "field %s: %s", field, raw)
				last := field[strings.LastIndexAny(field, ".]")+1:]
				if s, isStr := v.(string); isStr && timeFields[last] {
					require.Regexp(t, docTime, s, "field %s", field)
				}
				if s, isStr := v.(string); isStr && addressFields[last] {
					require.Regexp(t, docAddress, s, "field %s", field)
					require.Equal(t, checksumAddress(s), s, "field %s is not in checksum case", field)
				}
			}
			if tc.strictForm {
				other, query, _ := strings.Cut(tc.path, "?")
				if strings.HasSuffix(other, "/") {
					other = strings.TrimSuffix(other, "/")
				} else {
					other += "/"
				}
				if query != "" {
					other += "?" + query
				}
				status, _, raw := bundle.call(t, tc.method, "/v1/"+other, tc.body)
				require.Equal(t, http.StatusNotFound, status, "%s %s answered %s", tc.method, other, raw)
			}
		})
	}

	t.Run("TwitterPresentWhenEmpty", func(t *testing.T) {
		_, _, raw := bundle.call(t, "GET", "/v1/c/mine", nil)
		var c map[string]any
		require.NoError(t, json.Unmarshal(raw, &c))
		require.Contains(t, c, "twitter")
		require.Equal(t, "", c["twitter"])
	})

	t.Run("ChecksumOfTheDocumentsAddresses", func(t *testing.T) {
		for _, a := range []string{"0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95", "0xFFfbFC0674faC46f2d44433192d33D5998a41b07",
			"0xB6BdB5F73b6d717eb6949AeE9F9551298493390E", "0x2E4aae69D95C5F15b151243bDc97795B1D2c0E07"} {
			require.Equal(t, a, checksumAddress(strings.ToLower(a)))
		}
	})

	t.Run("CustomModelRefusalNamesIt", func(t *testing.T) {
		_, _, raw := bundle.call(t, "POST", "/v1/consumer/gen", genBody("0x"+strings.Repeat("a", 64), ""))
		require.Contains(t, string(raw), "custom_models_unsupported")
	})

	t.Run("SignedUploadIsAPresignedPUT", func(t *testing.T) {
		_, _, raw := bundle.call(t, "GET", "/v1/upload/token/"+tokenID(me.Address, 1)+"/a.jpg/", nil)
		var u struct{ URL string }
		require.NoError(t, json.Unmarshal(raw, &u))
		jpeg := []byte("\xff\xd8\xff\xe0fake jpeg")
		put := func(ctype, auth string, body io.Reader, length int64) (int, string) {
			req, err := http.NewRequest("PUT", u.URL, body)
			require.NoError(t, err)
			req.ContentLength = length
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		status, body := put("image/png", "", bytes.NewReader(jpeg), int64(len(jpeg)))
		require.Equal(t, http.StatusForbidden, status, "a content type other than the signed one")
		require.Contains(t, body, "<Code>SignatureDoesNotMatch</Code>")
		status, body = put("image/jpeg", "Bearer sim-test", bytes.NewReader(jpeg), int64(len(jpeg)))
		require.Equal(t, http.StatusBadRequest, status, "a second credential")
		require.Contains(t, body, "InvalidArgument")
		status, body = put("image/jpeg", "", io.MultiReader(bytes.NewReader(jpeg)), -1)
		require.Equal(t, http.StatusLengthRequired, status, "no Content-Length: %s", body)
		big := int64(maxUpload + 1)
		status, _ = put("image/jpeg", "", io.LimitReader(zeros{}, big), big)
		require.Equal(t, http.StatusBadRequest, status, "over the size limit")
		status, body = put("image/jpeg", "", bytes.NewReader(jpeg), int64(len(jpeg)))
		require.Equal(t, http.StatusOK, status, body)
		got, ok := bundle.sim.UploadedImage(tokenID(me.Address, 1))
		require.True(t, ok)
		require.Equal(t, jpeg, got)
	})

	t.Run("WebsocketOnlyOnItsOwnAddress", func(t *testing.T) {
		sep := New(&Config{SeparateWebsocket: true})
		t.Cleanup(sep.Close)
		req, _ := http.NewRequest("GET", "/?id=0x1&jwt=x", nil)
		req.Header.Set("Upgrade", "websocket")
		rec := &recorder{header: http.Header{}}
		sep.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.status, "the API address does not serve the websocket")
		rec = &recorder{header: http.Header{}}
		sep.WebsocketHandler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusUnauthorized, rec.status, "the websocket address checks the jwt")
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) { r.status = s }

// lookup follows a dotted path with [i] indexes.
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[name]; !ok {
				return nil, false
			}
		}
		if hasIdx {
			i, _ := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			a, ok := cur.([]any)
			if !ok || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		}
	}
	return cur, true
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "s"
	case float64:
		return "n"
	case bool:
		return "b"
	case map[string]any:
		return "o"
	case []any:
		return "a"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
