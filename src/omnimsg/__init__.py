"""omnimsg: the rules of business messaging, as an embeddable library."""
