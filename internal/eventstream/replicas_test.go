package eventstream

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/natstest"
)

func TestKeepReplicas(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, KeepReplicas(0, 1), "a new stream gets the configured count")
	require.Equal(t, 3, KeepReplicas(1, 3), "scaling up is allowed")
	require.Equal(t, 3, KeepReplicas(3, 1), "never scaled down")
	require.Equal(t, 3, KeepReplicas(3, 3))
}

// TestReplicasOnACluster: on a three-node cluster the streams and their
// durable consumers are created with the configured replicas, and a
// process started with fewer (the default 1) leaves them as they are.
func TestReplicasOnACluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := natstest.RunCluster(t, 3)
	js, err := jetstream.New(c.Connect(t))
	require.NoError(t, err)

	s, err := EnsureStream(ctx, js, &StreamConfig{Replicas: 3})
	require.NoError(t, err)
	require.Equal(t, 3, s.CachedInfo().Config.Replicas)
	n, err := EnsureNotifyStreamConfig(ctx, js, &NotifyStreamConfig{Replicas: 3})
	require.NoError(t, err)
	require.Equal(t, 3, n.CachedInfo().Config.Replicas)
	cons, err := EnsureConsumer(ctx, js, &ConsumerConfig{Durable: ConsumerSink, Replicas: 3})
	require.NoError(t, err)
	require.Equal(t, 3, cons.CachedInfo().Config.Replicas)

	// A process configured with one replica (the default).
	s, err = EnsureStream(ctx, js, &StreamConfig{Replicas: 1})
	require.NoError(t, err)
	require.Equal(t, 3, s.CachedInfo().Config.Replicas)
	n, err = EnsureNotifyStream(ctx, js)
	require.NoError(t, err)
	require.Equal(t, 3, n.CachedInfo().Config.Replicas)
	cons, err = EnsureConsumer(ctx, js, &ConsumerConfig{Durable: ConsumerSink, Replicas: 1})
	require.NoError(t, err)
	require.Equal(t, 3, cons.CachedInfo().Config.Replicas)
	// A consumer without a count follows the stream's.
	exp, err := EnsureConsumer(ctx, js, &ConsumerConfig{Durable: ConsumerExporter})
	require.NoError(t, err)
	info, err := exp.Info(ctx)
	require.NoError(t, err)
	require.Len(t, info.Cluster.Replicas, 2, "two followers beside the leader")
	s, err = OpenStreamReplicas(ctx, js, 1)
	require.NoError(t, err)
	require.Equal(t, 3, s.CachedInfo().Config.Replicas)
}
