/** "Index Folder": pick a folder, index it with a progress toast (memery encodes only what changed). */
import { Action, ActionPanel, Form, Icon, popToRoot, useNavigation } from "@raycast/api";
import { existsSync } from "node:fs";
import { useMemo, useState } from "react";
import { indexWithToast } from "./feedback";
import { readSettings } from "./preferences";

interface Values {
  folder: string[];
}

export function IndexFolderForm(props: { onIndexed?: (folder: string) => void; initialFolder?: string }) {
  const settings = useMemo(readSettings, []);
  const first = props.initialFolder ?? settings.folders.find((f) => existsSync(f));
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const { pop } = useNavigation();

  async function submit(values: Values) {
    const folder = values.folder[0];
    if (!folder) {
      setError("Choose a folder of images");
      return;
    }
    setBusy(true);
    const summary = await indexWithToast(settings.client, folder);
    setBusy(false);
    if (!summary) return;
    if (props.onIndexed) {
      // Opened from Search Memes: back to the grid, which reloads its folders.
      props.onIndexed(folder);
      pop();
    } else await popToRoot();
  }

  return (
    <Form
      isLoading={busy}
      actions={
        <ActionPanel>
          <Action.SubmitForm title="Index Folder" icon={Icon.MagnifyingGlass} onSubmit={submit} />
        </ActionPanel>
      }
    >
      <Form.Description text="memery reads every image in the folder (and its subfolders) once; later runs only look at new or changed files." />
      <Form.FilePicker
        id="folder"
        title="Folder"
        canChooseDirectories
        canChooseFiles={false}
        allowMultipleSelection={false}
        {...(first ? { defaultValue: [first] } : {})}
        error={error}
        onChange={() => setError(undefined)}
      />
      {settings.folders.length > 0 ? (
        <Form.Description title="From preferences" text={settings.folders.join("\n")} />
      ) : (
        <Form.Description
          title="Tip"
          text="Add this folder to Image Folders in the extension preferences to pick it in Search Memes."
        />
      )}
    </Form>
  );
}

export default function IndexFolder() {
  return <IndexFolderForm />;
}
