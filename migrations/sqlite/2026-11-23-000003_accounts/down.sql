DROP TABLE api_keys;
DROP TABLE account_tokens;
