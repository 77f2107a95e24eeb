package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBlob(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "hunter2"}
	with := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range keys {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want Blob
	}{
		"Default":        {nil, Blob{Kind: BlobKindDir, Dir: filepath.Join(DefaultDataDir, "blobs")}},
		"DefaultDataDir": {map[string]string{"DATA_DIR": "/srv/gp"}, Blob{Kind: BlobKindDir, Dir: "/srv/gp/blobs"}},
		"FileAbsolute":   {map[string]string{"BLOB_URL": "file:///var/lib/blobs/"}, Blob{Kind: BlobKindDir, Dir: "/var/lib/blobs"}},
		"FileRelative":   {map[string]string{"BLOB_URL": "file:data/blobs"}, Blob{Kind: BlobKindDir, Dir: "data/blobs"}},
		"Postgres":       {map[string]string{"BLOB_URL": "postgres:"}, Blob{Kind: BlobKindPostgres}},
		"LegacyPostgres": {map[string]string{"BLOB_STORE": "postgres"}, Blob{Kind: BlobKindPostgres}},
		"LegacyAgrees":   {map[string]string{"BLOB_STORE": "postgres", "BLOB_URL": "postgres:"}, Blob{Kind: BlobKindPostgres}},
		"LegacyDir":      {map[string]string{"BLOB_STORE": "dir"}, Blob{Kind: BlobKindDir, Dir: filepath.Join(DefaultDataDir, "blobs")}},
		"S3": {with(map[string]string{"BLOB_URL": "s3://gp-blobs/prod/eu?endpoint=10.0.0.5:8333&region=eu-west-1&tls=false"}),
			Blob{Kind: BlobKindS3, S3: BlobS3{Endpoint: "10.0.0.5:8333", Region: "eu-west-1", Bucket: "gp-blobs",
				Prefix: "prod/eu/", AccessKey: "AKID", SecretKey: "hunter2"}}},
		"S3DefaultsAndAnonymous": {map[string]string{"BLOB_URL": "s3://gp-blobs?endpoint=s3.example.com"},
			Blob{Kind: BlobKindS3, S3: BlobS3{Endpoint: "s3.example.com", TLS: true, Bucket: "gp-blobs"}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			api, err := APIFromEnv(env(tc.env))
			require.NoError(t, err)
			require.Equal(t, tc.want, api.Blob)
			worker, err := WorkerFromEnv(env(tc.env))
			require.NoError(t, err)
			require.Equal(t, tc.want, worker.Blob)
		})
	}
}

func TestBlobRefused(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{
		"s3://gp-blobs":                                          "endpoint=host:port",
		"s3://gp-blobs?endpoint=":                                "endpoint=host:port",
		"s3://gp-blobs?endpoint=http://h:1":                      "endpoint=host:port",
		"s3://gp-blobs?endpoint=:9000":                           "endpoint=host:port",
		"s3://?endpoint=h:1":                                     "must name a bucket",
		"s3://Bad_Bucket?endpoint=h:1":                           "must name a bucket",
		"s3://gp-blobs?endpoint=h:1&tls=maybe":                   "tls must be true or false",
		"s3://gp-blobs?endpoint=h:1&acl=public":                  "not acl",
		"s3://AKID:hunter2@gp-blobs?endpoint=h:1":                "must not hold credentials",
		"postgres://db/x":                                        "takes nothing more",
		"file://host/dir":                                        "names a directory",
		"file:":                                                  "names a directory",
		"gs://bucket":                                            "scheme file, postgres or s3",
		"s3://gp-blobs?endpoint=h:1&region=x&tls=true&x=hunter2": "not x",
	} {
		_, err := WorkerFromEnv(env(map[string]string{"BLOB_URL": give}))
		require.ErrorContains(t, err, "BLOB_URL", give)
		require.ErrorContains(t, err, want, give)
		require.NotContains(t, err.Error(), "hunter2", give)
	}

	_, err := APIFromEnv(env(map[string]string{"BLOB_STORE": "s3"}))
	require.ErrorContains(t, err, "BLOB_STORE")
	_, err = APIFromEnv(env(map[string]string{"BLOB_STORE": "postgres", "BLOB_URL": "file:///b"}))
	require.ErrorContains(t, err, "BLOB_STORE: disagrees with BLOB_URL (dir)")

	// One key without the other; the message never shows a key.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		_, err = WorkerFromEnv(env(map[string]string{"BLOB_URL": "s3://gp-blobs?endpoint=h:1", k: "hunter2"}))
		require.ErrorContains(t, err, "set both, or neither")
		require.NotContains(t, err.Error(), "hunter2")
	}
	// Keys are read only for an s3 store.
	_, err = WorkerFromEnv(env(map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}))
	require.NoError(t, err)
}
