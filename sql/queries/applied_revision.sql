-- verify-triggers CLI: the revision(s) the migrations recorded as applied.
SELECT v.version_num
FROM {schema}.verify_triggers_version AS v
ORDER BY v.version_num;
