package providers

// InputError is a mistake in what the shopper typed (a phone number on the wrong network),
// returned by checks such as PhoneChecker.CheckPhone. Message is the English text, which
// completes the field's name ("Phone number " + Message) for the API; Key and Args (name,
// value pairs) name a whole sentence in Kassa's message catalogue (locale/messages) so that
// the checkout page can say it in the shopper's language. Keys are stable: renaming one means
// renaming it in every catalogue.
type InputError struct {
	Key     string
	Args    []string
	Message string
}

func (e *InputError) Error() string { return e.Message }
