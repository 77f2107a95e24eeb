package blob

import (
	"errors"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

// TestS3ErrorMapping is the table of S3 answers the store maps to the
// interface's errors. SeaweedFS, which the other S3 tests run against,
// answers a full disk with InternalError and a bucket over its quota with
// AccessDenied, neither of which says "full", so the full answers here
// are the codes other servers send.
func TestS3ErrorMapping(t *testing.T) {
	t.Parallel()
	for _, resp := range []minio.ErrorResponse{
		{Code: "XMinioStorageFull", StatusCode: http.StatusInsufficientStorage},
		{Code: "XMinioAdminBucketQuotaExceeded", StatusCode: http.StatusBadRequest},
		{Code: "QuotaExceeded", StatusCode: http.StatusForbidden},
		{Code: "SomethingNew", StatusCode: http.StatusInsufficientStorage},
	} {
		err := s3StorageError("error writing blob", resp)
		require.ErrorIs(t, err, ErrInsufficientStorage, resp.Code)
	}
	for _, resp := range []minio.ErrorResponse{
		{Code: "AccessDenied", StatusCode: http.StatusForbidden},
		{Code: "InternalError", StatusCode: http.StatusInternalServerError},
		{Code: "NoSuchBucket", StatusCode: http.StatusNotFound},
	} {
		err := s3StorageError("error writing blob", resp)
		require.False(t, errors.Is(err, ErrInsufficientStorage), resp.Code)
		require.ErrorContains(t, err, "error writing blob")
	}

	require.ErrorIs(t, s3ReadError("x", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: http.StatusNotFound}), ErrNotFound)
	// A HEAD's 404 carries no body.
	require.ErrorIs(t, s3ReadError("x", minio.ErrorResponse{StatusCode: http.StatusNotFound}), ErrNotFound)
	// A missing bucket is the operator's problem, not a missing blob.
	require.NotErrorIs(t, s3ReadError("x", minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: http.StatusNotFound}), ErrNotFound)
}
