package checkout

// Message is a shopper-facing text named by a stable key of Kassa's message catalogue
// (locale/messages) with its arguments as name, value pairs, so that a page can say it in the
// shopper's language. An Error's Message and Fields keep the English words for the API and
// the logs; its Shopper and ShopperFields name the same texts for pages.
type Message struct {
	Key  string
	Args []string
}

// Say returns the Message key with args (name, value pairs).
func Say(key string, args ...string) Message { return Message{Key: key, Args: args} }

// ShopperMessage returns the catalogue message of err's *Error, if it has one.
func ShopperMessage(err error) (Message, bool) {
	var e *Error
	if asError(err, &e) && e.Shopper.Key != "" {
		return e.Shopper, true
	}
	return Message{}, false
}
