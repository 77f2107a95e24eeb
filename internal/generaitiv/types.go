package generaitiv

// Attribute is one token trait. Value is a string or a number.
type Attribute struct {
	TraitType string `json:"trait_type"`
	Value     any    `json:"value"`
}

// Metadata is a token's name, description, image and traits.
type Metadata struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Image       string      `json:"image"`
	Attributes  []Attribute `json:"attributes,omitempty"`
}

// Listing is a token's sale listing; the quantities are 32-byte hex.
type Listing struct {
	Price     string `json:"price"`
	StartTime string `json:"startTime"`
	EndTime   string `json:"endTime"`
	Amount    string `json:"amount"`
}

// Token is a token as the search and token routes return it. Each route
// fills a different subset of the fields.
type Token struct {
	Collection             string   `json:"collection"`
	TokenID                string   `json:"tokenId"`
	Creator                string   `json:"creator,omitempty"`
	CreatorAddress         string   `json:"creator_address,omitempty"`
	Status                 string   `json:"status,omitempty"`
	Explicit               bool     `json:"explicit,omitempty"`
	VirtualAddress         string   `json:"virtual_address,omitempty"`
	ContentModerationScore float64  `json:"content_moderation_score,omitempty"`
	Model                  string   `json:"model,omitempty"`
	Slug                   string   `json:"slug,omitempty"`
	Metadata               Metadata `json:"metadata"`
	CreatedAt              string   `json:"created_at,omitempty"`
	Created                string   `json:"created,omitempty"`
	Modified               string   `json:"modified,omitempty"`
	Listing                *Listing `json:"listing,omitempty"`
	Total                  string   `json:"total,omitempty"`
	Entity                 string   `json:"entity,omitempty"`
	Name                   string   `json:"name,omitempty"`
	ContractType           string   `json:"contract_type,omitempty"`
	TokenURI               string   `json:"token_uri,omitempty"`
	Amount                 string   `json:"amount,omitempty"`
	WorkloadID             string   `json:"workload_id,omitempty"`
}

// Collection is a collection's metadata.
type Collection struct {
	Address         string `json:"address"`
	Name            string `json:"name"`
	Slug            string `json:"slug"`
	Description     string `json:"description"`
	Owner           string `json:"owner"`
	Explicit        bool   `json:"explicit"`
	Image           string `json:"image"`
	Twitter         string `json:"twitter,omitempty"`
	TwitterVerified bool   `json:"twitter_verified,omitempty"`
	Virtual         bool   `json:"virtual"`
	RoyaltyFee      int    `json:"royalty_fee,omitempty"`
	Status          string `json:"status,omitempty"`
	VirtualAddress  string `json:"virtual_address,omitempty"`
	SlugOrAddress   string `json:"slugOrAddress,omitempty"`
	CreatedAt       string `json:"created_at,omitempty"`
}

// User is a wallet's profile.
type User struct {
	Username        string `json:"username"`
	Bio             string `json:"bio"`
	Link            string `json:"link"`
	Image           string `json:"image"`
	Address         string `json:"address"`
	Twitter         string `json:"twitter"`
	TwitterVerified bool   `json:"twitter_verified"`
}

// Training is a model trained by the key's owner.
type Training struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	Status          string `json:"status"`
	Owner           string `json:"owner"`
	SourceModelSlug string `json:"source_model_slug"`
}

// NewToken is the body of POST /c/virtual/token/{slug}/{tokenId}.
type NewToken struct {
	TokenID     string      `json:"tokenId"`
	Amount      string      `json:"amount"`
	Attributes  []Attribute `json:"attributes"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
}
