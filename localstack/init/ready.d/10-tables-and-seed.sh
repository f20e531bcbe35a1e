#!/usr/bin/env bash
# LocalStack init hook (ready stage): creates every table of infra/tables.json, named
# $TABLE_PREFIX<owner>, and loads the demo data of localstack/seed/items.json. Safe to
# run again: existing tables and items are left as they are.
#
# Inside LocalStack it uses `awslocal`; elsewhere (CI, against DynamoDB Local) set
# AWS_CLI="aws --endpoint-url http://127.0.0.1:8000".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TABLES_JSON=${TABLES_JSON:-$here/../../../infra/tables.json}
SEED_ITEMS=${SEED_ITEMS:-$here/../../seed/items.json}
TABLE_PREFIX=${TABLE_PREFIX:-local-}
read -r -a aws <<<"${AWS_CLI:-awslocal}"

owners=$(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))))' "$TABLES_JSON")
for owner in $owners; do
  table="$TABLE_PREFIX$owner"
  if "${aws[@]}" dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
    echo "table $table exists"
    continue
  fi
  # The definition as the CLI takes it: the same keys and indexes, on-demand billing.
  input=$(python3 - "$TABLES_JSON" "$owner" "$table" <<'PY'
import json, sys
tables, owner, name = sys.argv[1], sys.argv[2], sys.argv[3]
definition = dict(json.load(open(tables))[owner])
definition.pop("TimeToLiveSpecification", None)
definition.update(TableName=name, BillingMode="PAY_PER_REQUEST")
print(json.dumps(definition))
PY
)
  "${aws[@]}" dynamodb create-table --cli-input-json "$input" >/dev/null
  "${aws[@]}" dynamodb wait table-exists --table-name "$table"
  ttl=$(python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))[sys.argv[2]].get("TimeToLiveSpecification"); print(t["AttributeName"] if t else "")' "$TABLES_JSON" "$owner")
  if [ -n "$ttl" ]; then
    "${aws[@]}" dynamodb update-time-to-live --table-name "$table" \
      --time-to-live-specification "Enabled=true,AttributeName=$ttl" >/dev/null
  fi
  echo "table $table created"
done

# The demo data, as items written only where absent.
python3 - "$SEED_ITEMS" "$TABLE_PREFIX" <<'PY' | while IFS=$'\t' read -r table item; do
import json, sys
items, prefix = json.load(open(sys.argv[1])), sys.argv[2]
for owner, rows in items.items():
    for row in rows:
        print(f"{prefix}{owner}\t{json.dumps(row)}")
PY
  if ! out=$("${aws[@]}" dynamodb put-item --table-name "$table" --item "$item" \
    --condition-expression "attribute_not_exists(pk)" 2>&1); then
    case "$out" in
      *ConditionalCheckFailed*) ;; # already there
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
done
echo "seed data loaded"
