/**
 * "Find Similar to Finder Selection": the grid of the images most like the image selected in Finder
 * (the first selected image file; it comes first itself when it is indexed).
 */
import { Grid, Icon, showToast, Toast } from "@raycast/api";
import { usePromise } from "@raycast/utils";
import { selectedFinderImage } from "./finder-selection";
import { MemeGrid } from "./search-memes";

export default function FindSimilarToFinderSelection() {
  const { data, isLoading } = usePromise(selectedFinderImage, [], {
    onData: (found) => {
      if ("problem" in found)
        void showToast({ style: Toast.Style.Failure, title: found.problem, message: found.detail });
    },
  });
  if (data && "path" in data) return <MemeGrid similarTo={{ path: data.path }} />;
  return (
    <Grid isLoading={isLoading}>
      {data ? <Grid.EmptyView icon={Icon.Finder} title={data.problem} description={data.detail} /> : null}
    </Grid>
  );
}
