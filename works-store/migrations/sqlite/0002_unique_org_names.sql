-- Organization names are unique, ignoring case, so people can tell customers apart.
CREATE UNIQUE INDEX orgs_name_unique ON orgs (lower(name));
