"""The pages people see at the authorization server: login, consent, errors."""
