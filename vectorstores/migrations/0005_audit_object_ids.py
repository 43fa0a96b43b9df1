from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vectorstores", "0004_uploaded_file_records"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="object_ids",
            field=models.TextField(blank=True, default="", verbose_name="files and batches"),
            preserve_default=False,
        ),
    ]
