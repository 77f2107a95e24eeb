package generaitivsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// virtualCollection is the contract address the document gives for every
// virtual token ("the collection address for any virtual token").
const virtualCollection = "0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95"

// user is a Generaitiv account.
type user struct {
	Username        string `json:"username"`
	Bio             string `json:"bio"`
	Link            string `json:"link"`
	Image           string `json:"image"`
	Address         string `json:"address"`
	Twitter         string `json:"twitter"`
	TwitterVerified bool   `json:"twitter_verified"`
}

// collection is a (virtual) collection.
type collection struct {
	Name            string `json:"name"`
	Slug            string `json:"slug"`
	Address         string `json:"address"`
	Description     string `json:"description"`
	Owner           string `json:"owner"`
	Explicit        bool   `json:"explicit"`
	Image           string `json:"image"`
	Twitter         string `json:"twitter"`
	TwitterVerified bool   `json:"twitter_verified"`
	Virtual         bool   `json:"virtual"`
	RoyaltyFee      int    `json:"royalty_fee"`
	Status          string `json:"status"`
	VirtualAddress  string `json:"virtual_address"`
	CreatedAt       stamp  `json:"created_at"`
}

// attribute is one token trait.
type attribute struct {
	TraitType string `json:"trait_type"`
	Value     any    `json:"value"`
}

// metadata is a token's metadata.
type metadata struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Image       string      `json:"image"`
	Attributes  []attribute `json:"attributes"`
}

// token is a (virtual) token.
type token struct {
	Collection     string `json:"collection"`
	TokenID        string `json:"tokenId"`
	Creator        string `json:"creator"`
	Status         string `json:"status"`
	Explicit       bool   `json:"explicit"`
	VirtualAddress string `json:"virtual_address"`
	// ModerationScore is the document's content_moderation_score.
	ModerationScore float64  `json:"content_moderation_score"`
	Model           string   `json:"model"`
	Slug            string   `json:"slug"`
	Metadata        metadata `json:"metadata"`
	Amount          string   `json:"-"`
	Created         stamp    `json:"created_at"`
	Listing         *listing `json:"listing"`
	WorkloadID      string   `json:"-"`
	// Refreshed is when the token's metadata was last asked to refresh.
	Refreshed stamp `json:"-"`
}

// listing is a token's sale listing: 32-byte hex quantities, times in
// seconds.
type listing struct {
	Price     string `json:"price"`
	StartTime string `json:"startTime"`
	EndTime   string `json:"endTime"`
	Amount    string `json:"amount"`
}

// newListing lists n copies at price wei from start for 180 days.
func newListing(price uint64, start time.Time, n int) *listing {
	return &listing{Price: fmt.Sprintf("0x%064x", price), StartTime: fmt.Sprintf("0x%064x", start.Unix()),
		EndTime: fmt.Sprintf("0x%064x", start.Add(180*24*time.Hour).Unix()), Amount: amount(n)}
}

// stamp is a time written as the document writes them: UTC with
// milliseconds, "2023-05-17T14:55:41.218Z".
type stamp struct{ time.Time }

// MarshalJSON writes the document's form.
func (t stamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

func now() stamp { return stamp{time.Now().UTC()} }

// userForKey returns the account an API key belongs to, creating it on
// first use: the address is derived from the key, so it is stable.
func (s *Server) userForKey(key string) *user {
	sum := sha256.Sum256([]byte("generaitiv-sim:" + key))
	addr := "0x" + hex.EncodeToString(sum[:20])
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[addr]
	if !ok {
		u = &user{Username: "sim-" + addr[2:10], Address: checksumAddress(addr), Link: "https://generaitiv.ai",
			Image: "https://img.generaitiv.xyz/profile/64x64/" + addr[2:12] + ".png"}
		s.users[addr] = u
	}
	return u
}

// seed loads the document's examples, plus enough tokens in red-every-day
// for its cursor to span several pages.
func (s *Server) seed() {
	t0 := time.Date(2023, 3, 28, 18, 4, 32, 269e6, time.UTC)
	brain := &user{Username: "zkBrain", Bio: "$ /dev/null", Link: "https://generaitiv.ai",
		Image:   "https://img.generaitiv.xyz/profile/64x64/MLuydpuSwkBglk7VoZGKR.png",
		Address: "0x4e3A99830E5ffb86952B14aDBD5746ce84A6F6F3", Twitter: "https://twitter.com/zk_brain", TwitterVerified: true}
	ashu := &user{Username: "Ashu", Address: "0x1BEC0E6266e97f0C7C42aa720959e46598DD8Ce1",
		Twitter: "https://twitter.com/AshwiniDodani", TwitterVerified: true}
	red := &user{Username: "red", Address: "0x02d65B0Fd9bd351e3b92ebe3d492E0c50D55554A"}
	for _, u := range []*user{brain, ashu, red} {
		s.users[strings.ToLower(u.Address)] = u
	}
	for i, c := range []*collection{
		{Name: "Poetic Animations by Ashu", Slug: "poetic-animations-by-ashu", Description: "Enter the world of cosmic poetry and poetic cosmos.",
			Owner: ashu.Address, RoyaltyFee: 1000, VirtualAddress: "0x2E4aae69D95C5F15b151243bDc97795B1D2c0E07",
			Image: "https://img.generaitiv.xyz/collection_thumbnail/64x64/DoufsO6BuIZvtGEE3cFep.png"},
		{Name: "The Rabbit Pact", Slug: "the-rabbit-pact", Description: "A Surreal Tale of Love and Betrayal",
			Owner: "0xE51e00dcCfa51960a1B40E1d20c9733E29581593", VirtualAddress: "0xa4DCeB149FE05B86859653e4fB78191b76305096",
			Image: "https://metadata.generaitiv.xyz/images/asset/UG6hhvegHHJRUMl9YbUig.png"},
		{Name: "R.E.D.", Slug: "red-every-day", Description: "Red-hooded figures, every day.",
			Owner: red.Address, VirtualAddress: "0x47FA5Db2949BfC5aE791Ef34d7C5e20FD894D3c2"},
	} {
		c.Address, c.Virtual, c.Status, c.CreatedAt = virtualCollection, true, "ACTIVE", stamp{t0.Add(time.Duration(i) * 24 * time.Hour)}
		s.cols[c.Slug] = c
	}
	for i := 1; i <= 30; i++ {
		id := tokenID(red.Address, i)
		s.tokens[id] = &token{Collection: virtualCollection, TokenID: id, Creator: red.Address, Status: "ACTIVE",
			VirtualAddress: "0x47FA5Db2949BfC5aE791Ef34d7C5e20FD894D3c2", Slug: "red-every-day", Amount: amount(1),
			Metadata: metadata{Name: fmt.Sprintf("R.E.D. #%03d", i), Description: "Each intricate piece in the R.E.D collection.",
				Image: fmt.Sprintf("https://metadata.generaitiv.xyz/images/asset/red%03d.png", i), Attributes: []attribute{}},
			Model: "QmWBtxpyjJwgm6hP2va2T6RuAvXTCw5gHuni5mgYVC2mUz", Listing: newListing(50e15, t0, 1),
			Created: stamp{t0.Add(time.Duration(i) * time.Hour)}, Refreshed: stamp{t0.Add(time.Duration(i)*time.Hour + 54*time.Millisecond)}}
	}
	id := "0x1bec0e6266e97f0c7c42aa720959e46598dd8ce100000000000000000000004e"
	s.tokens[id] = &token{Collection: virtualCollection, TokenID: id, Creator: ashu.Address, Status: "ACTIVE",
		VirtualAddress: "0x2E4aae69D95C5F15b151243bDc97795B1D2c0E07", Slug: "poetic-animations-by-ashu", Amount: amount(3),
		WorkloadID: "0xed0fbcda7a00686163bb4afc444866ef",
		Metadata: metadata{Name: "To The Moon And Back", Description: "Let the lines not decide our destiny.",
			Image:      "https://metadata.generaitiv.xyz/images/asset/UkVI3r_CjBrJ4QFbSQfoK.gif",
			Attributes: []attribute{{"Category", "Genesis Animation"}, {"Format", "Words to ART"}}},
		Model: "stability-ai-sdxl", Listing: newListing(0, t0, 3),
		Created: stamp{t0.Add(40 * 24 * time.Hour)}, Refreshed: stamp{t0.Add(40 * 24 * time.Hour)}}
}

// tokenID is a virtual token id: the creator's address followed by a
// 12-byte counter, as in the document's examples.
func tokenID(address string, n int) string {
	return "0x" + strings.ToLower(strings.TrimPrefix(address, "0x")) + fmt.Sprintf("%024x", n)
}

// amount is a 32-byte hex quantity.
func amount(n int) string { return fmt.Sprintf("0x%064x", n) }

// sortedTokens returns tokens matching keep, newest first.
func (s *Server) sortedTokens(keep func(t *token) bool) []*token {
	var out []*token
	for _, t := range s.tokens {
		if keep(t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created.Time) {
			return out[i].Created.After(out[j].Created.Time)
		}
		return out[i].TokenID > out[j].TokenID
	})
	return out
}

// findCollection resolves a slug, a collection's virtual_address, or its
// contract address. Every virtual collection shares the virtual contract's
// address, so that address resolves to the contract itself (sharedContract),
// whose tokens are every virtual token.
func (s *Server) findCollection(slugOrAddress string) *collection {
	if c, ok := s.cols[slugOrAddress]; ok {
		return c
	}
	for _, c := range s.cols {
		if strings.EqualFold(c.VirtualAddress, slugOrAddress) {
			return c
		}
	}
	if strings.EqualFold(slugOrAddress, virtualCollection) {
		return sharedContract
	}
	return nil
}

// sharedContract is the virtual contract as a collection.
var sharedContract = &collection{Name: "Generaitiv Virtual", Slug: "generaitiv-virtual", Address: virtualCollection,
	Description: "The contract holding every virtual token.", Owner: "0x0000000000000000000000000000000000000000",
	Virtual: true, Status: "ACTIVE", VirtualAddress: virtualCollection,
	Image:     "https://img.generaitiv.xyz/collection_thumbnail/64x64/virtual.png",
	CreatedAt: stamp{time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)}}

// holds reports whether c's token list includes t.
func (c *collection) holds(t *token) bool {
	if c == sharedContract {
		return strings.EqualFold(t.Collection, c.Address)
	}
	return t.Slug == c.Slug
}
