package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstream"
)

// GeneraitivPublish is a generation's publish request, stored as the row's
// publish column: the token to create from the image.
type GeneraitivPublish struct {
	// Collection is the slug of the collection the token goes into.
	Collection string `json:"collection"`
	// Name and Description are the token's.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Attributes are the token's traits.
	Attributes []GeneraitivAttribute `json:"attributes,omitempty"`
}

// GeneraitivAttribute is one token trait; Value is a string or a number.
type GeneraitivAttribute = generaitiv.Attribute

// oneToken is the amount of a published token: a single edition.
const oneToken = "0x0000000000000000000000000000000000000000000000000000000000000001"

// publish runs the token chain, each step recorded before the next:
// reserve the next token id of the key's wallet (the row's unique token_id
// keeps two generations from reserving the same one), create the token
// (the upstream accepts the identical request again, so a crash after it
// is harmless), then fetch a signed URL and PUT the image.
func (w *GeneraitivFinalizeWorker) publish(ctx context.Context, g *store.Generation) error {
	var pub GeneraitivPublish
	if err := json.Unmarshal(g.Publish, &pub); err != nil {
		return &finalizeError{code: "publish_failed", message: "the stored publish request cannot be decoded", err: err}
	}
	client, err := w.deps.generaitivClient(ctx, w.deps.Pool, g.AppID)
	if err != nil {
		return err
	}
	if g.TokenID == nil {
		if g, err = w.reserveToken(ctx, client, g, &pub); err != nil {
			return err
		}
	}
	if !g.TokenCreated {
		if g, err = w.createToken(ctx, client, g, &pub); err != nil {
			return err
		}
	}
	if !g.UploadDone {
		if _, err = w.uploadImage(ctx, client, g); err != nil {
			return err
		}
	}
	return nil
}

func (w *GeneraitivFinalizeWorker) reserveToken(ctx context.Context, client *generaitiv.Client, g *store.Generation, pub *GeneraitivPublish) (*store.Generation, error) {
	addr, err := client.UserInfo(ctx)
	if err != nil {
		return nil, publishErr("reading the key's wallet", err)
	}
	tokenID, err := client.NextTokenID(ctx, addr)
	if err != nil {
		return nil, publishErr("reserving a token id", err)
	}
	if err := w.deps.Generaitiv.Fault.at(FaultPublishReserve, g.ID); err != nil {
		return nil, err
	}
	g, err = store.GenerationUpdate(ctx, w.deps.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		if g.TokenID != nil {
			return store.ErrUnchanged
		}
		g.TokenID, g.TokenCollection = &tokenID, pub.Collection
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		// Another generation holds this id until it creates its token.
		return nil, river.JobSnooze(w.deps.Generaitiv.PublishRetry)
	}
	return g, err
}

func (w *GeneraitivFinalizeWorker) createToken(ctx context.Context, client *generaitiv.Client, g *store.Generation, pub *GeneraitivPublish) (*store.Generation, error) {
	attrs := pub.Attributes
	if attrs == nil {
		attrs = []generaitiv.Attribute{} // the body says "attributes": [], not null
	}
	err := client.CreateToken(ctx, g.TokenCollection, &generaitiv.NewToken{
		TokenID: *g.TokenID, Amount: oneToken, Attributes: attrs, Name: pub.Name, Description: pub.Description,
	})
	if generaitiv.IsConflict(err) {
		// The id was taken outside gamepipe: reserve another.
		_, uerr := store.GenerationUpdate(ctx, w.deps.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			if g.TokenCreated {
				return store.ErrUnchanged
			}
			g.TokenID = nil
			return nil
		})
		if uerr != nil {
			return nil, uerr
		}
		return nil, river.JobSnooze(w.deps.Generaitiv.PublishRetry)
	}
	if err != nil {
		return nil, publishErr("creating the token", err)
	}
	if err := w.deps.Generaitiv.Fault.at(FaultPublishCreate, g.ID); err != nil {
		return nil, err
	}
	return store.GenerationUpdate(ctx, w.deps.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		g.TokenCreated = true
		return nil
	})
}

func (w *GeneraitivFinalizeWorker) uploadImage(ctx context.Context, client *generaitiv.Client, g *store.Generation) (*store.Generation, error) {
	name := "image"
	if exts, _ := mime.ExtensionsByType(g.ImageContentType); len(exts) > 0 {
		name += exts[len(exts)-1]
	}
	signed, err := client.UploadURL(ctx, *g.TokenID, name)
	if err != nil {
		return nil, publishErr("getting the upload URL", err)
	}
	body, info, err := w.deps.Blob.Open(ctx, g.ImageKey)
	if err != nil {
		return nil, fmt.Errorf("error opening image %s: %w", g.ImageKey, err)
	}
	defer body.Close()
	if err := client.PutUpload(ctx, signed, g.ImageContentType, body, info.Size); err != nil {
		return nil, publishErr("uploading the image", err)
	}
	if err := w.deps.Generaitiv.Fault.at(FaultPublishUpload, g.ID); err != nil {
		return nil, err
	}
	return store.GenerationUpdate(ctx, w.deps.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
		g.UploadDone = true
		return nil
	})
}

// publishErr makes a permanent upstream refusal fail the generation and
// leaves anything else to a retry.
func publishErr(doing string, err error) error {
	var ue *upstream.Error
	switch {
	case errors.Is(err, generaitiv.ErrUnsafeLink):
		return &finalizeError{code: "unsafe_link", message: "unsafe link: the upload URL was refused: " + err.Error(), err: err}
	case errors.As(err, &ue) && !ue.Retryable():
		return &finalizeError{code: "publish_failed", message: "Generaitiv refused " + doing + ": " + ue.Error(), err: err}
	}
	return fmt.Errorf("error %s: %w", doing, err)
}
