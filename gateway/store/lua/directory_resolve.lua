-- The person a subject code stands for, for the citizen portal: none while the subject or its
-- person is under review (quarantine), since whose flags apply is then not established, and
-- the portal answers as for an unknown subject (the same bytes as "no data").
-- KEYS[1..] directory keys (newest first). ARGV[4..] the subject keys (the same order)
-- -> {person or '', review reason or ''}
local person = resolve(1, #KEYS)
local review = review_of(4, #ARGV, person)
return {person or '', review or ''}
