from django.db import migrations, models


class Migration(migrations.Migration):
    """Credentials that exist keep today's behaviour (shared); new ones default to owned."""

    dependencies = [
        ("credentials", "0003_base_url_allow_list"),
    ]

    operations = [
        migrations.AddField(
            model_name="credential",
            name="access_mode",
            field=models.CharField(
                choices=[
                    ("shared", "Shared: everyone who may use the credential reaches every vector store of its key"),
                    (
                        "owned",
                        "Owned: each user reaches the stores they own or that are shared with a group of theirs",
                    ),
                ],
                default="shared",
                help_text="Superusers and users with the “manage all vector stores” permission reach every store "
                "in either mode.",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="credential",
            name="access_mode",
            field=models.CharField(
                choices=[
                    ("shared", "Shared: everyone who may use the credential reaches every vector store of its key"),
                    (
                        "owned",
                        "Owned: each user reaches the stores they own or that are shared with a group of theirs",
                    ),
                ],
                default="owned",
                help_text="Superusers and users with the “manage all vector stores” permission reach every store "
                "in either mode.",
                max_length=8,
            ),
        ),
    ]
