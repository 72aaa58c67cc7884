// The side-by-side table of versions: one column per version, one row per field, differing rows
// marked, a radio button per cell to take that value into the merge (arrow keys move between a
// row's choices), and a button per column to take the whole version.

import { ABSENT, show, type Choice, type FieldRow } from './merge';

export interface Version {
  label: string;
  rev: string;
  deleted?: boolean;
}

export function MergeTable(props: { versions: Version[]; rows: FieldRow[]; choice: Choice; onChoice: (c: Choice) => void; onlyDiffering?: boolean }) {
  const { versions, rows, choice } = props;
  const shown = props.onlyDiffering ? rows.filter((r) => r.differs) : rows;
  const takeAll = (i: number) => props.onChoice(Object.fromEntries(rows.map((r) => [r.key, i])));
  return (
    <div class="scroll">
      <table class="grid merge" aria-label="versions side by side">
        <thead>
          <tr>
            <th>field</th>
            {versions.map((v, i) => (
              <th key={v.rev} data-rev={v.rev}>
                <div>{v.label}</div>
                <div class="mono small">{v.rev}</div>
                <button class="small" type="button" onClick={() => takeAll(i)} aria-label={`take every field from ${v.rev}`}>
                  take all
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.key} class={r.differs ? 'differs' : ''} data-field={r.key}>
              <th scope="row" class="mono">
                {r.key}
                {r.differs && <span class="badge">differs</span>}
              </th>
              {r.values.map((v, i) => (
                <td key={i} class={(v === ABSENT ? 'absent ' : '') + (choice[r.key] === i ? 'chosen' : '')}>
                  <label class="cell">
                    <input type="radio" name={`field-${r.key}`} checked={choice[r.key] === i} onChange={() => props.onChoice({ ...choice, [r.key]: i })} aria-label={`${r.key} from ${versions[i]?.rev}`} />
                    <code>{show(v)}</code>
                  </label>
                </td>
              ))}
            </tr>
          ))}
          {shown.length === 0 && (
            <tr>
              <td colSpan={versions.length + 1} class="muted">
                every field is the same in every version
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
