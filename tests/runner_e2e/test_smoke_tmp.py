from pathlib import Path
from e2ekit import make_client
import kycflow
from kycflow.testing import Sandbox

async def test_smoke(sb: Sandbox, docs_dir: Path) -> None:
    user = sb.create_user()
    async with make_client(sb, user) as client:
        result = await kycflow.WizardRunner(client, kycflow.DirectoryProvider(docs_dir)).run()
    print(result)
    print(sb.submissions(user))
    print(sb.history(user))
    print(sb.requests())
